"""Torch-import rules live on the node declarations: each names a real torch call, no call is claimed
twice, and every type with a torch counterpart declares one."""

import pytest

from graphcore.exchange.torch_ops import X, tables
from graphcore.registry import REGISTRY, NodeSpec, TorchRule, register, same_shape

# Types deliberately without a torch-import rule, each with the reason. Every other type must declare
# at least one `torch_rules` entry, so a new type either says how torch computes it or says why not.
WITHOUT_TORCH = {
    "index_select": "the importer makes one from indexing by a list or a step (x[:, [0, 2]], x[::2])",
    "Input": "the importer makes one from each forward argument (an fx placeholder)",
    "Parameter": "the importer makes one from each learned tensor the module reads (get_attr)",
    "Constant": "the importer makes one from each buffer or literal tensor the module reads",
    "Opaque": "the importer's fallback for any call no other type computes",
    "PositionalEncoding": "a function graphcore's export defines; matched by its source (helper_rules)",
    "GaussianKLLoss": "no torch function: the VAE's KL term, written out",
    "GANDiscriminatorLoss": "no torch function: two binary cross-entropies on real and fake scores",
    "GANGeneratorLoss": "no torch function: a binary cross-entropy on the fake scores",
    "L1Penalty": "no torch function: a sum of absolute weights added to the loss",
    "L2Penalty": "no torch function: a sum of squared weights added to the loss",
    "narrow_to": "the importer makes one from a slice whose stop is a traced size (bias[:, :, :T, :T])",
    "Block": "no torch call: an instance of a block definition, inlined before anything runs",
}


def _ports(result):
    return [p for r in result for p in _ports(r)] if isinstance(result, tuple) else [result]


def test_every_type_with_a_torch_counterpart_declares_a_rule():
    missing = sorted(t for t, spec in REGISTRY.items() if not spec.torch_rules and t not in WITHOUT_TORCH)
    assert not missing, f"no torch_rules and no reason in WITHOUT_TORCH: {missing}"
    stale = sorted(t for t in WITHOUT_TORCH if t not in REGISTRY or REGISTRY[t].torch_rules)
    assert not stale, f"listed in WITHOUT_TORCH but registered with rules, or not registered: {stale}"


def test_every_rule_resolves_to_a_torch_call_of_a_registered_type():
    import torch

    found = tables(REGISTRY)
    assert found.functions and found.methods and found.modules
    for key, rule in [*found.functions.items(), *found.methods.items()]:
        assert rule.type in REGISTRY, key
    for function in found.functions:
        assert callable(function), function
    for method in found.methods:
        assert callable(getattr(torch.Tensor, method, None)), f"Tensor.{method}"
    for module, (type_, read) in found.modules.items():
        assert type_ in REGISTRY and issubclass(module, torch.nn.Module) and callable(read), module


@pytest.mark.parametrize("spec", [s for s in REGISTRY.values() if s.torch_rules], ids=lambda s: s.type)
def test_rules_bind_to_the_types_ports_and_params(spec):
    """A call's required arguments become the type's ports or params; its result ports exist."""
    from graphcore.exchange.torch_ops import rule as make_rule

    names = {*spec.inputs, *(p.name for p in spec.params)}
    for declared in spec.torch_rules:
        if declared.module:
            continue
        made = make_rule(spec.type, declared.signature, declared.varargs, **declared.rename)
        required = {made.rename.get(n, n) for n in made.names if n not in made.defaults}
        assert required <= names | {"tensors"}, (declared.key, required - names)
        bound = {made.rename.get(n, n) for n in made.names}  # "tensors": one port per tensor (cat, einsum)
        assert bound & set(spec.inputs) or "tensors" in bound, (
            f"{declared.key} feeds no input port of {spec.type}"
        )
    assert set(_ports(spec.result_ports(spec.defaults()))) <= set(spec.outputs)


def _tiny(type_: str, *rules: TorchRule) -> NodeSpec:
    return NodeSpec(type_, "test", ("x",), ("out",), same_shape, "{x}", "A test type.", torch_rules=rules)


def test_a_call_claimed_by_two_types_is_a_declaration_error():
    registry: dict[str, NodeSpec] = {}
    register(_tiny("first", TorchRule(function="torch.relu", signature="input", rename=X)), registry)
    register(_tiny("second", TorchRule(function="torch.relu", signature="input", rename=X)), registry)
    with pytest.raises(ValueError, match="torch.relu is claimed by both first and second"):
        tables(registry)


def test_a_rule_names_exactly_one_call():
    with pytest.raises(ValueError, match="exactly one of function, method or module"):
        TorchRule(function="torch.relu", method="relu", signature="input")
    with pytest.raises(ValueError, match="a module rule gives read"):
        TorchRule(module="torch.nn.ReLU")
