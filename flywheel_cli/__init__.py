"""flywheel: ad-hoc data-flywheel runs from the command line."""

__version__ = "0.1.0"
