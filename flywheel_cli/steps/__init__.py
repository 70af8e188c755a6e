"""The remote steps, each usable alone (`flywheel deploy|customize|evaluate`) and chained by `flywheel run`."""
