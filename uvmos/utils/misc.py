"""Small helpers shared across the package."""

from typing import Any, Iterable, Mapping

__all__ = ["store_init_args"]


def store_init_args(obj: Any, args: Mapping[str, Any], skip: Iterable[str] = ()) -> None:
    """Set ``obj.<name> = value`` for each constructor argument in ``args`` (usually ``locals()``).

    The idiom of PyTorch Lightning's ``save_hyperparameters``: a module with a dozen plain settings
    stores them in one line instead of a dozen ``self.x = x``. ``self``, ``__class__`` and the names
    in ``skip`` (arguments the constructor converts before storing) are left out. Call it after
    ``nn.Module.__init__`` so that sub-modules are registered.
    """
    skip = {"self", "__class__", *skip}
    for name, value in args.items():
        if name not in skip:
            setattr(obj, name, value)
