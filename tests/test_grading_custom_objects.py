"""Trusted custom objects (issue 14): an assignment whose course provides its own layer lists it in
``[assignment] custom_objects``; the course's module reaches the build job (so a submission can
import it) and the clean check job (which imports it and nothing else to load the model). A
submission's own copy of the module never replaces the course's, and a custom layer the course
does not provide is an error that says how to fix it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from modelcheck.core.spec import SpecError
from modelcheck.grading import Grader, load_assignment, parse_assignment

ASSIGNMENT = """
[assignment]
name = "course layer"
builder = "build_model"
custom_objects = ["course_layers:Scale"]
[expect]
input_shape = [4]
output_shape = [3]
total_params = 19
[points]
output_shape = 1
param_count = 1
finite = 1
"""

COURSE_LAYERS = '''
import keras


@keras.saving.register_keras_serializable(package="course")
class Scale(keras.layers.Layer):
    """One trainable factor per feature."""

    def build(self, input_shape):
        self.factor = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="factor")

    def call(self, x):
        return x * self.factor
'''

WITH_COURSE_LAYER = '''
import keras
from course_layers import Scale


def build_model():
    return keras.Sequential([keras.Input((4,)), Scale(), keras.layers.Dense(3, activation="softmax")])
'''

OWN_LAYER = '''
import keras


class Shift(keras.layers.Layer):
    def build(self, input_shape):
        self.shift = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="shift")

    def call(self, x):
        return x + self.shift


def build_model():
    return keras.Sequential([keras.Input((4,)), Shift(), keras.layers.Dense(3, activation="softmax")])
'''

# a student's own course_layers.py: a Scale without weights, which would change the count
FORGED_COURSE_LAYERS = '''
import keras
print("the student's own course_layers was imported")


@keras.saving.register_keras_serializable(package="course")
class Scale(keras.layers.Layer):
    def call(self, x):
        return x
'''


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course")
    (folder / "assignment.toml").write_text(ASSIGNMENT)
    (folder / "course_layers.py").write_text(COURSE_LAYERS)
    submissions = tmp_path_factory.mktemp("submissions")
    (submissions / "uses_course_layer.py").write_text(WITH_COURSE_LAYER)
    (submissions / "own_layer.py").write_text(OWN_LAYER)
    forged = submissions / "forged_module"
    forged.mkdir()
    (forged / "model.py").write_text(WITH_COURSE_LAYER)
    (forged / "course_layers.py").write_text(FORGED_COURSE_LAYERS)
    assignment = load_assignment(folder / "assignment.toml")
    with Grader(assignment, workers=2) as grader:
        grades = grader.grade_all([submissions / "uses_course_layer.py", submissions / "own_layer.py", forged])
    return {grade.student: grade for grade in grades}


def test_a_submission_using_the_course_layer_gets_full_marks(course):
    grade = course["uses_course_layer"]
    assert [r.status for r in grade.results] == ["passed"] * 3, [r.describe() for r in grade.results]
    assert grade.score == grade.max_score == 3


def test_the_course_module_replaces_a_copy_the_student_hands_in(course):
    grade = course["forged_module"]
    assert "the student's own course_layers was imported" not in grade.output
    assert grade.score == grade.max_score, [r.describe() for r in grade.results]


def test_a_custom_layer_the_course_does_not_provide_is_an_error_with_the_fix(course):
    grade = course["own_layer"]
    assert grade.score == 0
    text = "\n".join(r.describe() for r in grade.results)
    assert "could not be loaded" in text
    assert "register_keras_serializable" in text
    assert "Scale" in text  # the course's own classes are named as the ones that load


@pytest.mark.parametrize("entry", ["course_layers", "course.layers:Scale", "course_layers:Scale:x", "1mod:Scale"])
def test_custom_objects_entries_name_a_module_file_beside_the_assignment(entry):
    text = ASSIGNMENT.replace('"course_layers:Scale"', f'"{entry}"')
    with pytest.raises(SpecError, match=r'entries look like "module:Class", the module a file beside'):
        parse_assignment(textwrap.dedent(text))


def test_the_course_module_is_not_a_secret_but_the_reference_is(tmp_path):
    (tmp_path / "assignment.toml").write_text(ASSIGNMENT.replace('name = "course layer"',
                                                                 'name = "x"\nreference = "solution.py"'))
    for name in ("course_layers.py", "solution.py"):
        (tmp_path / name).write_text("")
    assignment = load_assignment(tmp_path / "assignment.toml")
    assert set(assignment.course_files()) == {"course_layers.py"}
    assert set(assignment.instructor_files()) == {"course_layers.py", "solution.py"}
    assert Path(assignment.course_files()["course_layers.py"]).parent == tmp_path
