"""Params say what is wrong with a value; shape helpers broadcast with symbolic dims."""

import pytest

from graphcore.registry import REGISTRY, Param, ShapeError, broadcast, literal_shape, load_library

load_library()


@pytest.mark.parametrize(
    ("param", "value", "problem"),
    [
        (Param("n", "int", 1, min=1), 0, "must be >= 1"),
        (Param("n", "int", 1), 1.5, "expected an integer"),
        (Param("n", "int", 1), True, "expected an integer"),
        (Param("p", "float", 0.5, max=1.0), 2, "must be <= 1"),
        (Param("p", "float", 0.5), float("nan"), "expected a number"),
        (Param("b", "bool", True), 1, "expected true or false"),
        (Param("r", "str", "mean", choices=("mean", "sum")), "max", "must be one of mean, sum"),
        (Param("s", "shape", []), [3, -1], "expected a list of sizes"),
        (Param("s", "shape", []), [3, "N N"], "expected a list of sizes"),
        (Param("v", "value", 0.0), [[1, 2], [3]], "rectangular"),
        (Param("v", "value", 0.0), None, "must be given"),
        (Param("k", "ints", 3, min=1), [3, 0], "must be >= 1"),
    ],
)
def test_bad_param_values_are_named(param, value, problem):
    assert problem in param.problem(value)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        (Param("n", "int", 1, min=1), 5),
        (Param("p", "float", 0.5), 3),
        (Param("s", "shape", []), ["N", 3]),
        (Param("v", "value", 0.0), [[1, 2.5], [3, 4]]),
        (Param("v", "value", None, optional=True), None),
        (Param("d", "dims", None, optional=True), [0, 1]),
    ],
)
def test_good_param_values_pass(param, value):
    assert param.problem(value) is None


def test_spec_reports_unknown_and_bad_params():
    problems = dict(REGISTRY["Linear"].param_problems({"in_features": 0, "colour": "red"}))
    assert problems == {"colour": "Linear has no param 'colour'", "in_features": "must be >= 1; got 0"}


def test_broadcast():
    assert broadcast(("N", 3), (3,)) == ("N", 3)
    assert broadcast((2, 1), (1, 4)) == (2, 4)
    assert broadcast((), ("N", 1)) == ("N", 1)
    with pytest.raises(ShapeError, match=r"cannot broadcast \[2, 3\] with \[4\]: dim -1 is 3 vs 4"):
        broadcast((2, 3), (4,))


def test_literal_shape():
    assert literal_shape(1.0) == ()
    assert literal_shape([[1, 2, 3], [4, 5, 6]]) == (2, 3)


def test_registering_a_type_twice_is_refused():
    from graphcore.registry import register

    with pytest.raises(ValueError, match="registered twice"):
        register(REGISTRY["add"])
