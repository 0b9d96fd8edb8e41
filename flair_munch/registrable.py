"""Kinds known by name (AllenNLP's ``Registrable``): schedules, executors, job kinds share one registration rule."""

from typing import Callable, TypeVar

T = TypeVar("T", bound=type)


def registering(base: type, registry: dict, name: str, what: str, attribute: str = "name") -> Callable[[T], T]:
    """A class decorator that files a subclass of ``base`` in ``registry`` under ``name`` and sets its
    ``attribute`` to it. Re-registering the same class (a module reload) replaces it; another class under a taken
    name is refused, as is a class that is not a ``base``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a {what} is registered under a non-empty name, got {name!r}")

    def add(cls: T) -> T:
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise TypeError(f"@{base.__name__}.register({name!r}) decorates a {base.__name__} subclass, not {cls!r}")
        known = registry.get(name)
        if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
            raise ValueError(f"{what} name {name!r} is taken by {known.__module__}.{known.__qualname__}")
        setattr(cls, attribute, name)
        registry[name] = cls
        return cls

    return add
