"""manifest-gui: keep Destiny 2's game manifest in PostgreSQL."""

__version__ = "0.1.0"
APP_NAME = "manifest-gui"
