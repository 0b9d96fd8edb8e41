"""A model's config is its constructor's arguments, recorded as called, so a new argument cannot be left out."""

import functools
import inspect


def records_arguments(init, exclude: tuple = ()):
    """Wraps ``__init__`` so the outermost call stores its bound arguments (defaults filled) in ``_arguments``.

    Only the class being built records: a subclass's ``super().__init__(...)`` passes derived values
    (ECTTLNER's ``w`` becomes task weights) that are not what the user chose. ``exclude`` names
    arguments that are not settings (embeddings, dictionaries). ``functools.wraps`` keeps the signature
    visible to ``inspect`` and ``typing.get_type_hints``, which the recipe schema reads.
    """
    if getattr(init, "_records_arguments", False):
        return init
    signature = inspect.signature(init)

    @functools.wraps(init)
    def recording_init(self, *args, **kwargs):
        if "_arguments" not in self.__dict__:
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = {name: value for name, value in list(bound.arguments.items())[1:] if name not in exclude}
            object.__setattr__(self, "_arguments", arguments)  # before Module.__init__, so past its __setattr__
        init(self, *args, **kwargs)

    recording_init._records_arguments = True
    return recording_init
