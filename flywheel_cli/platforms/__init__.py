"""The platform interface and its implementations (one per platform generation)."""
