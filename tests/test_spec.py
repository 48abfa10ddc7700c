import pytest

from modelcheck.core.errors import SpecError
from modelcheck.core.registry import CHECK_NAMES, applicable_checks, check_kwargs
from modelcheck.core.result import CheckResult
from modelcheck.core.spec import ModelSpec, spec_from_mapping


def test_unknown_key_names_file_value_and_closest_key():
    with pytest.raises(SpecError) as info:
        spec_from_mapping({"builder": "m:f", "output_shap": [10]}, where="modelcheck.toml [[model]] 1")
    text = str(info.value)
    assert "modelcheck.toml [[model]] 1" in text and "'output_shap'" in text and "[10]" in text
    assert "did you mean 'output_shape'?" in text


def test_wrong_type_and_unknown_check():
    with pytest.raises(SpecError, match=r"`total_params` must be a int, received '266610' \(str\)"):
        spec_from_mapping({"builder": "m:f", "total_params": "266610"}, where="f")
    with pytest.raises(SpecError, match="unknown check 'shape'"):
        spec_from_mapping({"builder": "m:f", "checks": ["shape"]}, where="f", known_checks=CHECK_NAMES)
    with pytest.raises(SpecError, match="missing `builder"):
        spec_from_mapping({"id": "x"}, where="f")


def test_shapes_are_per_sample_and_checks_get_the_batch_dimension():
    spec = spec_from_mapping({"builder": "pkg.mod:build_classifier", "output_shape": [10], "total_params": 5,
                              "layer_output_shapes": {"dense": [300]}}, where="f")
    assert spec.id == "build_classifier"
    assert check_kwargs(spec, "output_shape")["expected"] == (None, 10)
    assert check_kwargs(spec, "output_shape")["layer_shapes"] == {"dense": (None, 300)}
    assert check_kwargs(spec, "param_count")["total"] == 5
    assert "learns_linear" not in applicable_checks(spec)
    assert "learns_linear" in applicable_checks(spec.replace(options={"learns_linear": {"steps": 10}}))


def test_invalid_output_kind():
    with pytest.raises(SpecError, match="`output` must be one of probabilities, binary, logits, regression"):
        ModelSpec(id="x", output="softmax")


def test_result_round_trips_through_json():
    import json

    result = CheckResult.fail("overfit_batch", "m", expected=(None, 10),
                              details={"loss_history": [1.0, float("nan")]})
    again = CheckResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.details["loss_history"] == [1.0, "nan"] and again.expected == [None, 10]
    assert not again and again.status == "failed"
    with pytest.raises(AssertionError, match="^m$"):
        again.assert_passed()
