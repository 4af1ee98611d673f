"""The portal's core: accounts, organisations, people registries, notifications."""
