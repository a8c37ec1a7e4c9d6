"""Building a head's parts (network, losses) from configs, with the mesh facts they ask for.

A mesh head knows its mesh: the coarse adjacency, the up-sampling chain, how many joint and
vertex tokens there are, the input channels, the rest pose. A part built from a config gets
each fact that its constructor names as a default argument (what the config says wins), so
FastMETRO, METRO and a user's own network take exactly what they need and nothing is set on
them after construction. A constructor with ``**kwargs`` gets every fact. A config may
repeat a size fact (:data:`FIXED_FACTS`, e.g. ``num_joints=14``) but not contradict it: that
is an error naming the key and both values.
"""
from __future__ import annotations

import inspect
from typing import Any, Mapping

from mmpose.registry import MODELS
from torch import nn


#: Facts a part's config may repeat but not contradict: sizes fixed by the mesh, the joint set
#: and the features (other facts, e.g. a regressor's ``num_betas``, are defaults to override).
FIXED_FACTS = ('num_joints', 'num_vertices', 'in_channels', 'coarse_level')


def named_parameters_of(module_type: Any) -> Mapping[str, inspect.Parameter]:
    """The constructor parameters of a class or builder function."""
    target = module_type.__init__ if inspect.isclass(module_type) else module_type
    return inspect.signature(target).parameters


def build_with_facts(cfg: Mapping[str, Any], facts: Mapping[str, Any], owner: str) -> nn.Module:
    """``MODELS.build(cfg)`` with the facts its constructor names as default arguments.

    Args:
        cfg: the part's config; ``type`` is a registered name or a class.
        facts: name -> value the caller knows (e.g. ``num_joints``, ``adjacency``).
        owner: who builds, for error messages (e.g. ``'MeshHead network'``).

    Returns:
        The built module.

    Raises:
        KeyError: no ``type``, or a type not registered.
        ValueError: the config contradicts a fact of :data:`FIXED_FACTS` (names both values).
    """
    if not isinstance(cfg, Mapping) or 'type' not in cfg:
        raise KeyError(f'{owner}: the config needs a type, got '
                       f'{sorted(cfg) if isinstance(cfg, Mapping) else cfg!r}')
    module_type = cfg['type']
    if isinstance(module_type, str):
        found = MODELS.get(module_type)
        if found is None:
            raise KeyError(f'{owner}: type {module_type!r} is not registered in '
                           f"mmpose's MODELS (is its package imported, e.g. through "
                           'custom_imports?)')
        module_type = found
    parameters = named_parameters_of(module_type)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for name in FIXED_FACTS:
        fact = facts.get(name)
        given = cfg.get(name, fact)
        if _is_scalar(fact) and _is_scalar(given) and given != fact:
            raise ValueError(
                f'{owner}: the config sets {name}={given!r}, but the head knows '
                f'{name}={fact!r} (from its mesh, joint set or input channels); remove '
                f'{name!r} from the {owner} config or make the two agree')
    default_args = {name: value for name, value in facts.items()
                    if (takes_any or name in parameters) and name not in cfg}
    return MODELS.build(dict(cfg), default_args=default_args)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str))
