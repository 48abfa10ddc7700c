"""The report's mutants page: the table (mistake, where, caught by, points), the survivors with what
would catch each, the score, links from the index and the model page, escaping; and the page of
``modelcheck mutants --html``."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelcheck.core.result import CheckResult
from modelcheck.report import ModelEntry, Run, model_page_name, render_report
from modelcheck.report.mutants import render_mutants_page, views_of_json

from .test_report import EVIL, parse, squash

MUTATION = {
    "model": "mlp", "score": 0.75, "caught": 3, "total": 4, "equivalent": 1, "invalid": 2,
    "checks": {"output_shape": 1.0, "param_count": 2.0, "config_lint": 1.0},
    "reference": {"output_shape": "passed", "param_count": "passed", "config_lint": "passed"},
    "seconds": 2.5, "not_mutable": None,
    "mutants": [
        {"operator": "units", "mistake": "wrong number of units in a hidden layer", "description": "units 8 -> 4",
         "where": "layer 'hidden' (Dense)", "caught_by": ["param_count"], "points": 2.0,
         "messages": {"param_count": "total parameters: expected 131, received 79"}},
        {"operator": "hidden_activation", "mistake": "hidden activation removed",
         "description": "activation relu removed", "where": "layer 'hidden' (Dense)",
         "caught_by": ["config_lint"], "points": 3.0, "messages": {"config_lint": "activation: ..."}},
        {"operator": "nan_weight", "mistake": "a NaN weight", "description": "one weight is NaN",
         "where": f"layer '{EVIL}' (Dense)", "caught_by": ["output_shape", "param_count"], "points": 1.0,
         "messages": {}},
        {"operator": "learning_rate", "mistake": "learning rate x1000", "description": "learning rate 0.001 -> 1 (x1000)",
         "where": "the Adam optimizer", "caught_by": [], "points": 4.0,
         "suggestion": "add loss_decrease"},
    ],
}


def _run() -> Run:
    mutants = CheckResult.fail("mutants", "mutation score: expected at least 95% of the mutants caught, received 75%",
                               details={"mutation": MUTATION, "text": "..."}, model="mlp")
    flat = CheckResult.skip("mutants", "no mutants: WideAndDeep is a subclassed model", model="sub",
                            details={"mutation": {"model": "sub", "score": None, "caught": 0, "total": 0,
                                                  "equivalent": 0, "invalid": 0, "checks": {"output_shape": 1.0},
                                                  "reference": {}, "mutants": [],
                                                  "not_mutable": "WideAndDeep is a subclassed model"}})
    return Run(models=[ModelEntry(id="mlp", results=[CheckResult.ok("output_shape", "ok"), mutants]),
                       ModelEntry(id="sub", results=[flat]),
                       ModelEntry(id="plain", results=[CheckResult.ok("output_shape", "ok")])],
               when="2025-01-02T03:04:05+00:00", seed=0, versions={"modelcheck": "0.1.0"})


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    return render_report(_run(), tmp_path_factory.mktemp("report"))


def test_the_page_has_the_table_of_mistakes_where_catchers_and_points(index):
    page = parse(index.parent / "mutants.html")
    section = page.find("section", id="mutants-mlp")
    table = section.find("table", cls="mutants")
    assert [squash(th.text()) for th in table.find("thead").find_all("th")] == [
        "Mistake", "What changed", "Where", "Caught by", "Points"]
    rows = [[squash(td.text()) for td in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")]
    assert rows[0] == ["wrong number of units in a hidden layer", "units 8 -> 4", "layer 'hidden' (Dense)",
                       "param_count", "2/4"]
    assert rows[2][3] == "output_shape param_count"
    assert rows[3] == ["learning rate x1000", "learning rate 0.001 -> 1 (x1000)", "the Adam optimizer", "survived",
                       "4/4"]
    statuses = [tr.attrs["data-status"] for tr in table.find("tbody").find_all("tr")]
    assert statuses == ["caught", "caught", "caught", "survived"]
    catcher = table.find("span", cls="v-passed")
    assert catcher.attrs["title"] == "total parameters: expected 131, received 79"


def test_the_page_lists_the_survivors_with_suggestions_and_the_score(index):
    section = parse(index.parent / "mutants.html").find("section", id="mutants-mlp")
    survivors = [squash(li.text()) for li in section.find("ul", cls="survivors").find_all("li")]
    assert survivors == ["learning rate 0.001 -> 1 (x1000), at the Adam optimizer: add loss_decrease"]
    assert squash(section.find("p", cls="score").text()) == "mutation score: 75% (3/4)"
    assert "Dropped: 1 equivalent to the model, 2 that Keras cannot build." in squash(section.text())
    assert "output_shape (1), param_count (2), config_lint (1)" in squash(section.text())


def test_an_assignment_runs_dropped_mutants_are_equivalent_to_the_reference(tmp_path):
    out = render_mutants_page(views_of_json({**MUTATION, "words": "assignment"}), tmp_path / "m.html", title="a")
    assert "Dropped: 1 equivalent to the reference, 2 that Keras cannot build." in squash(parse(out).text())


def test_the_page_sums_up_every_model_and_says_why_one_has_no_mutants(index):
    page = parse(index.parent / "mutants.html")
    assert squash(page.find("p", cls="overall").text()) == "Mutation score: 75% (3/4) over 2 models; lowest: mlp 75%"
    summary = {tr.attrs["data-model"]: [squash(td.text()) for td in tr.find_all("td")]
               for tr in page.find("table", cls="summary").find_all("tr") if "data-model" in tr.attrs}
    assert summary == {"mlp": ["75%", "3 / 4", "1", "3"], "sub": ["—", "0 / 0", "0", "0"]}
    sub = page.find("section", id="mutants-sub")
    assert squash(sub.find("p").text()) == "No mutants: WideAndDeep is a subclassed model"
    assert not page.find_all("section", id="mutants-plain")


def test_the_index_and_the_model_page_link_to_it(index):
    link = parse(index).find("p", cls="mutants-link")
    assert link.find("a").attrs["href"] == "mutants.html"
    assert "2 models" in squash(link.text())
    model = parse(index.parent / "models" / model_page_name("mlp"))
    hrefs = [a.attrs.get("href") for a in model.find_all("a")]
    assert "../mutants.html#mutants-mlp" in hrefs
    assert parse(index.parent / "mutants.html").find("section", id="mutants-mlp").find("h2").find("a").attrs[
        "href"] == f"models/{model_page_name('mlp')}"


def test_names_from_user_code_are_escaped(index):
    text = (index.parent / "mutants.html").read_text()
    assert EVIL not in text and "&lt;script&gt;" in text


def test_no_page_without_a_mutation_run(tmp_path):
    out = render_report(Run(models=[ModelEntry(id="plain", results=[CheckResult.ok("output_shape", "ok")])],
                            when="2025-01-02T03:04:05+00:00"), tmp_path)
    assert not (tmp_path / "mutants.html").exists()
    assert not parse(out).find_all("p", cls="mutants-link")


def test_the_command_json_renders_the_same_page(tmp_path):
    out = render_mutants_page(views_of_json(MUTATION), tmp_path / "m.html", title="weak assignment")
    page = parse(out)
    assert squash(page.find("p", cls="score").text()) == "mutation score: 75% (3/4)"
    assert not page.find_all("table", cls="summary")  # one model: no summary table
    assert page.find("section", id="mutants-mlp").find("h2").text() == "mlp"
