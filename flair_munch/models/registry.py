"""Model types by name: a new model is one file and one ``@register_model`` line, not a name in the recipe schema.

A recipe's ``model.type`` looks its class up in ``MODEL_TYPES``; ``FROZEN_MODEL_TYPES`` lists the
types that read frozen embeddings (and so the embedding store) rather than fine-tune an encoder.
Both are live: a type registered later (a plugin, a test) is known from then on.
"""

MODEL_TYPES: dict[str, type] = {}
"""``model.type`` -> model class, in registration order."""
FROZEN_MODEL_TYPES: list[str] = []
"""Types whose models read frozen ``embeddings``; the others fine-tune the transformer ``embeddings`` names."""


def register_model(name: str, frozen: bool = False):
    """Class decorator naming a model type for recipes; ``frozen``: it reads frozen embeddings.

    Example::

        @register_model("multi-head", frozen=True)
        class MultiHeadTagger(...): ...
    """

    def register(cls: type) -> type:
        known = MODEL_TYPES.get(name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"model type {name!r} is already {known.__name__}; choose another name for {cls.__name__}")
        MODEL_TYPES[name] = cls
        if frozen and name not in FROZEN_MODEL_TYPES:
            FROZEN_MODEL_TYPES.append(name)
        elif not frozen and name in FROZEN_MODEL_TYPES:
            FROZEN_MODEL_TYPES.remove(name)
        return cls

    return register


def unregister_model(name: str) -> None:
    """Forgets a model type (tests and plugins that registered one for a while)."""
    MODEL_TYPES.pop(name, None)
    if name in FROZEN_MODEL_TYPES:
        FROZEN_MODEL_TYPES.remove(name)
