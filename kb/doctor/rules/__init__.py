"""The rule modules; importing this package registers every rule (kb.doctor.registry)."""

from kb.doctor.rules import (  # noqa: F401
    autograd,
    calls,
    losses,
    registration,
    serialization,
    training,
)
