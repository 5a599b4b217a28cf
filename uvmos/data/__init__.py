"""Video data layer. Importing this package registers the built-in datasets (lazily)."""
from . import builtin  # noqa: F401  (registers datasets)
