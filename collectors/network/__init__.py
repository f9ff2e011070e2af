"""Network collector: the scope guard that every network target passes first.

`check_targets(targets, ScopePolicy(...))` returns the accepted targets or raises
ScopeError naming the first rejected target and the rule it broke. This version
has no scanner; the guard sends no traffic and resolves no names.
"""

from collectors.network.scope import ScopeError, ScopePolicy, Target, check_targets

__all__ = ["ScopeError", "ScopePolicy", "Target", "check_targets"]
