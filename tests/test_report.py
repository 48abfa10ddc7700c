"""The HTML report: content, highlighted mismatches, inline SVG charts, escaping, determinism."""

from __future__ import annotations

import json
import math
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from modelcheck.report import (
    LayerRow,
    entries_from_records,
    ModelEntry,
    Run,
    layer_rows,
    merge_entries,
    model_page_name,
    render_report,
    render_student_feedback,
)
from modelcheck.report.charts import grad_norm_chart, line_fit_chart, loss_chart
from modelcheck.core.result import CheckResult
from modelcheck.core.spec import ModelSpec

EVIL = "<script>alert(1)</script>"
EVIL_LAYER = "<script>alert(1)"  # Keras refuses "/" in layer names


# --- a minimal DOM over html.parser -------------------------------------------------------

VOID = {"meta", "br", "img", "input", "link", "hr", "circle", "line", "path", "rect"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: "Node | None") -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node | str] = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def iter(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list["Node"]:
        return [
            n for n in self.iter()
            if (tag is None or n.tag == tag)
            and (cls is None or cls in n.classes())
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> "Node":
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag} class={cls} {attrs}> in the page"
        return found[0]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#root", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(path: Path) -> Node:
    builder = _Builder()
    builder.feed(path.read_text(encoding="utf-8"))
    return builder.root


def squash(text: str) -> str:
    return " ".join(text.split())


# --- a run with every verdict, built by hand ---------------------------------------------------

LOSS = [round(2.0 * math.exp(-i / 30) + 0.001, 6) for i in range(200)]
NAN_LOSS = [1.0, 0.9, "nan", 0.7, "inf", "nan"]
NORMS = {"dense/kernel": 0.12, "dense/bias": 0.003, "out/kernel": 2e-6, f"{EVIL}/bias": 0.0, "out/bias": "nan"}


def _results() -> list[CheckResult]:
    return [
        CheckResult.ok("output_shape", "output shape (None, 10) as expected",
                       expected=(None, 10), received=(None, 10), model="mlp"),
        CheckResult.fail(
            "param_count",
            "the first Dense has 200 units; the assignment expects 300: 157,000 parameters instead of 235,500",
            expected=266610, received=178110,
            details={"diff": ["--- snapshot", "+++ model", "-dense (None, 300) 235500", "+dense (None, 200) 157000"]},
        ),
        CheckResult.fail("gradient_flow", f"variable {EVIL}/bias gets no gradient", details={"grad_norms": NORMS}),
        CheckResult.ok("overfit_batch", "the loss fell from 2.0 to 0.0014", details={"loss_history": LOSS}),
        CheckResult.error("loss_decrease", "the loss became NaN at step 2",
                          hint="lower the learning rate, e.g. `SGD(learning_rate=0.01)`",
                          details={"loss_history": NAN_LOSS}),
        CheckResult.skip("learns_linear", "learns_linear applies to one-input, one-output models"),
    ]


def _entries() -> list[ModelEntry]:
    mlp = ModelEntry(
        id="mlp",
        source="chapter 10, section 2",
        layers=[
            LayerRow("flatten", "Flatten", [None, 784], 0, 0, True),
            LayerRow("dense", "Dense", [None, 200], 157000, 157000, True,
                     expected_output_shape=[None, 300], expected_params=235500),
            LayerRow(EVIL, "Dense", [None, 10], 2010, 2010, True),
        ],
        results=_results(),
        expected_total_params=266610,
    )
    toy = ModelEntry(
        id="toy",
        source="chapter 1, the first model",
        results=[CheckResult.ok(
            "learns_linear", "learned y = 1.997x - 0.99", expected={"w": 2.0}, received={"w": 1.9973468780517578},
            details={"x": [-1, 0, 1, 2, 3, 4], "y": [-3, -1, 1, 3, 5, 7], "w": 1.997, "b": -0.99,
                     "loss_history": [5.0 / (i + 1) for i in range(100)]},
        )],
    )
    deep = ModelEntry(
        id=f"deep{EVIL}",
        known_fault="the printed code has no activation between the Dense layers.",
        results=[CheckResult.fail(
            "learns_linear", "predictions are off by 0.8 on average",
            details={"x": [-1, 0, 1, 2, 3, 4], "y": [-3, -1, 1, 3, 5, 7], "w": None, "b": None,
                     "predictions": [[-2.0], [-0.5], [1.2], [2.0], [4.1], [6.0]]},
        )],
    )
    return [mlp, toy, deep]


def _run(when: str = "2025-01-02T03:04:05+00:00") -> Run:
    return Run(models=_entries(), when=when, seed=1234, command="pytest --modelcheck -n 2",
               options={"modelcheck_report": "reports/"},
               versions={"modelcheck": "0.1.0", "keras": "3.15.1", "tensorflow": "2.21.0"})


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    return render_report(_run(), tmp_path_factory.mktemp("report"))


def _model_page(report: Path, model_id: str) -> Node:
    return parse(report.parent / "models" / model_page_name(model_id))


# --- index page ---------------------------------------------------------------------------------

def test_index_tells_when_and_how_it_ran(report):
    meta = squash(parse(report).find("table", cls="meta").text())
    for expected in ("2025-01-02T03:04:05+00:00", "pytest --modelcheck -n 2", "keras 3.15.1",
                     "tensorflow 2.21.0", "modelcheck 0.1.0", "1234", "modelcheck_report"):
        assert expected in meta


def test_index_counts_every_verdict(report):
    page = parse(report)
    counts = {n.attrs["data-count"]: int(n.find("b").text()) for n in page.find_all(cls="count")}
    assert counts == {"passed": 3, "failed": 2, "error": 1, "skipped": 1, "known_fault": 1}  # deep: known fault


def test_index_has_a_coloured_verdict_cell_per_model_and_check_linking_to_its_detail(report):
    page = parse(report)
    header = [squash(th.text()) for th in page.find("table", cls="results").find("thead").find_all("th")]
    assert header == ["Model", "output_shape", "param_count", "gradient_flow", "overfit_batch",
                      "learns_linear", "loss_decrease", "Notes"]
    rows = {row.attrs["data-model"]: row for row in page.find_all("tr") if "data-model" in row.attrs}
    assert sorted(rows) == sorted(["mlp", "toy", f"deep{EVIL}"])
    cells = rows["mlp"].find_all("td", cls="verdict")
    verdicts = [cell.find("span", cls="badge").attrs["data-verdict"] for cell in cells]
    assert verdicts == ["passed", "failed", "failed", "passed", "skipped", "error"]
    assert [sorted(c.find("span", cls="badge").classes()) for c in cells][1] == ["badge", "v-failed"]
    for cell in cells:
        href = cell.find("a").attrs["href"]
        page_name, _, anchor = href.partition("#")
        target = parse(report.parent / page_name)
        section = target.find("section", id=anchor)
        assert section.attrs["data-verdict"] == cell.find("span", cls="badge").attrs["data-verdict"]
    toy_cells = [squash(c.text()) for c in rows["toy"].find_all("td", cls="verdict")]
    assert toy_cells == ["—", "—", "—", "—", "passed", "—"]
    assert "known fault: the printed code has no activation" in squash(rows[f"deep{EVIL}"].text())


# --- model pages ----------------------------------------------------------------------------------

def test_model_page_lists_every_check_with_verdict_message_and_hint(report):
    page = _model_page(report, "mlp")
    sections = page.find_all("section", cls="check")
    assert [s.attrs["data-check"] for s in sections] == [
        "output_shape", "param_count", "gradient_flow", "overfit_batch", "learns_linear", "loss_decrease"]
    error = page.find("section", data_check="loss_decrease")
    assert error.attrs["data-verdict"] == "error"
    assert "the loss became NaN at step 2" in error.find("p", cls="message").text()
    assert squash(error.find(cls="hint").text()) == (
        "How to fix: lower the learning rate, e.g. `SGD(learning_rate=0.01)`")
    values = page.find("section", data_check="param_count").find("dl")
    assert [n.text() for n in values.find_all()] == ["expected", "266,610", "received", "178,110"]
    assert "Source: chapter 10, section 2" in squash(page.text())


def test_layer_table_highlights_mismatches_with_the_expected_value_beside(report):
    table = _model_page(report, "mlp").find("table", cls="layers")
    rows = table.find("tbody").find_all("tr")
    dense = [squash(td.text()) for td in rows[1].find_all("td")]
    assert dense == ["dense", "Dense", "(None, 200) expected (None, 300)", "157,000 expected 235,500", "yes"]
    assert len(rows[1].find_all("td", cls="mismatch")) == 2
    assert rows[0].find_all("td", cls="mismatch") == []
    assert rows[2].find_all("td", cls="mismatch") == []
    total = table.find("tfoot").find("td", cls="mismatch")
    assert squash(total.text()) == "159,010 expected 266,610"


def test_every_loss_history_gets_an_svg_path(report):
    page = _model_page(report, "mlp")
    charts = page.find_all("svg", data_chart="loss")
    assert len(charts) == 2  # overfit_batch and loss_decrease
    smooth = page.find("section", data_check="overfit_batch").find("svg", data_chart="loss")
    d = smooth.find("path", cls="curve").attrs["d"]
    assert d.startswith("M") and d.count("L") == len(LOSS) - 1
    assert smooth.attrs["data-scale"] == "log"  # 2.0 down to 0.001 spans three decades
    broken = page.find("section", data_check="loss_decrease").find("svg", data_chart="loss")
    d = broken.find("path", cls="curve").attrs["d"]
    assert d.count("M") == 2  # the line breaks at the first nan and resumes at 0.7
    markers = [squash(g.text()) for g in broken.find_all("g", cls="nonfinite")]
    assert markers == ["step 2: nan", "step 4: inf", "step 5: nan"]
    assert broken.attrs["data-scale"] == "linear"


def test_gradient_norms_are_drawn_on_a_log_scale(report):
    chart = _model_page(report, "mlp").find("svg", data_chart="grad")
    assert chart.attrs["data-scale"] == "log"
    ticks = [t.text() for t in chart.find_all("text", cls="tick")]
    assert ticks == ["1e-07", "1e-06", "1e-05", "0.0001", "0.001", "0.01", "0.1", "1"]
    widths = {g.find("title").text().split(": ")[0]: float(g.find("rect").attrs["width"])
              for g in chart.find_all("g", cls="bar-ok")}
    assert list(widths) == ["dense/kernel", "dense/bias", "out/kernel"]  # layer order kept
    # equal ratios give equal distances on a log axis: 0.12/0.003 = 40, 0.003/2e-6 = 1500
    per_decade = (widths["dense/kernel"] - widths["dense/bias"]) / math.log10(40)
    assert (widths["dense/bias"] - widths["out/kernel"]) / math.log10(1500) == pytest.approx(per_decade, rel=0.02)
    bad = [squash(g.find("text", cls="bad").text()) for g in chart.find_all("g", cls="bar-bad")]
    assert bad == ["0 (no gradient)", "nan"]


def test_learned_line_against_the_data_points(report):
    toy = _model_page(report, "toy").find("svg", data_chart="fit")
    assert len(toy.find_all("circle", cls="point")) == 6
    assert toy.find("path", cls="fit").attrs["d"].count("L") == 1  # a straight line
    assert "learned: y = 1.997·x − 0.99" in toy.text()
    received = _model_page(report, "toy").find("dl", cls="values").find_all("dd")[1]
    assert received.text() == '{"w": 1.997}'  # floats shown to 4 significant digits
    deep = _model_page(report, f"deep{EVIL}").find("svg", data_chart="fit")
    assert "model predictions" in deep.text()
    assert deep.find("path", cls="fit").attrs["d"].count("L") == 5  # one point per prediction


def test_snapshot_diff_lines_are_coloured(report):
    diff = _model_page(report, "mlp").find("pre", cls="diff")
    assert [squash(s.text()) for s in diff.find_all("span", cls="del")] == ["-dense (None, 300) 235500"]
    assert [squash(s.text()) for s in diff.find_all("span", cls="add")] == ["+dense (None, 200) 157000"]


def test_known_fault_is_explained_on_the_model_page(report):
    page = _model_page(report, f"deep{EVIL}")
    assert "Known fault: the printed code has no activation" in squash(page.find(cls="callout").text())


# --- safety and determinism -----------------------------------------------------------------------

def _all_pages(report: Path) -> list[Path]:
    return sorted(report.parent.rglob("*.html"))


def test_names_from_user_code_are_escaped(report):
    pages = _all_pages(report)
    assert len(pages) == 4
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text, path
        assert parse(path).find_all("script") == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in (report.parent / "models" / "mlp.html").read_text()
    # and the escaped name reads as the user wrote it
    names = [squash(code.text()) for code in _model_page(report, "mlp").find("table", cls="layers").find_all("code")]
    assert EVIL in names


def test_pages_are_self_contained(report):
    for path in _all_pages(report):
        text = path.read_text(encoding="utf-8")
        links = re.findall(r"(?:src|href)=\"([^\"]*)\"", text)
        assert all(not re.match(r"[a-z]+:", link) for link in links), links
        assert re.findall(r"https?://[^\"]*", text) in ([], ["http://www.w3.org/2000/svg"] * text.count("<svg"))


def _strip_time(text: str) -> str:
    return re.sub(r"<time[^>]*>[^<]*</time>", "<time/>", text)


def test_same_run_gives_the_same_report_apart_from_the_timestamp(tmp_path):
    first = render_report(_run(), tmp_path / "a").parent
    # as under xdist: models and results arrive in another order, with another timestamp,
    # one model split over two workers, and through JSON
    entries = [json.loads(json.dumps(e.to_dict())) for e in reversed(_entries())]
    mlp = next(e for e in entries if e["id"] == "mlp")
    split = dict(mlp, results=mlp["results"][:2], layers=[])
    mlp["results"] = list(reversed(mlp["results"][2:]))
    second_run = Run(models=[split, *entries], when="2030-12-31T23:59:59+00:00", seed=1234,
                     command="pytest --modelcheck -n 2", options={"modelcheck_report": "reports/"},
                     versions={"modelcheck": "0.1.0", "keras": "3.15.1", "tensorflow": "2.21.0"})
    second = render_report(second_run, tmp_path / "b").parent
    names = sorted(p.relative_to(first).as_posix() for p in first.rglob("*.*"))
    assert names == sorted(p.relative_to(second).as_posix() for p in second.rglob("*.*"))
    for name in names:
        a, b = (first / name).read_text(), (second / name).read_text()
        if name.endswith(".html"):
            assert "2025-01-02T03:04:05" in a and "2030-12-31T23:59:59" in b
            a, b = _strip_time(a), _strip_time(b)
        else:
            a, b = (json.dumps(dict(json.loads(t), when=None), sort_keys=True) for t in (a, b))
        assert a == b, name


def test_report_json_round_trips_the_run(report):
    data = json.loads((report.parent / "report.json").read_text())
    again = Run.from_dict(data)
    assert again.to_dict() == data
    assert isinstance(again.models[0].results[0], CheckResult)


# --- grading: feedback pages -----------------------------------------------------------------------

def test_student_feedback_says_what_is_wrong_and_how_to_fix_it(tmp_path):
    entry = _entries()[0]
    entry.score, entry.max_score = 3, 6
    path = render_student_feedback(entry.to_dict(), tmp_path / "alice.html", run=_run(), assignment="Chapter 10 MLP")
    page = parse(path)
    text = squash(page.text())
    assert "Feedback for mlp" in text and "Assignment: Chapter 10 MLP" in text and "Score: 3 / 6" in text
    assert "Your model passes 2 of 5 checks. 3 things need fixing" in text
    fixes = page.find("ol", cls="fixes").find_all("section")
    assert [s.attrs["data-check"] for s in fixes] == ["param_count", "gradient_flow", "loss_decrease"]
    hint = page.find("section", data_check="loss_decrease").find(cls="hint")
    assert "How to fix: lower the learning rate" in squash(hint.text())
    assert "157,000 parameters instead of 235,500" in text
    right = squash(page.find_all("ul", cls="plain")[0].text())
    assert "output shape (None, 10) as expected" in right
    assert "Figures in red differ from the assignment" in text


def test_feedback_for_a_model_that_passes_everything(tmp_path):
    entry = ModelEntry(id="bob", results=[CheckResult.ok("output_shape", "fine")])
    text = squash(parse(render_student_feedback(entry, tmp_path / "bob.html")).text())
    assert "Well done: your model passes every check that applies to it (1 of 1)" in text
    assert "What to fix" not in text


def test_class_report_links_each_student_to_a_feedback_page(tmp_path):
    alice, bob = _entries()[0], ModelEntry(id="bob", results=[CheckResult.ok("output_shape", "fine")])
    alice.id, alice.score, alice.max_score, bob.score, bob.max_score = "alice", 2, 6, 1, 1
    index = render_report(Run(models=[alice, bob], when="now"), tmp_path, pages="feedback")
    page = parse(index)
    assert [squash(th.text()) for th in page.find("thead").find_all("th")][:2] == ["Submission", "Score"]
    link = page.find("tr", data_model="alice").find("a").attrs["href"]
    assert "Feedback for alice" in squash(parse(index.parent / link).text())
    with pytest.raises(ValueError, match="pages must be one of"):
        render_report(Run(models=[bob], when="now"), tmp_path, pages="slides")


# --- data model --------------------------------------------------------------------------------------

def test_merge_entries_joins_workers_results_for_one_model():
    a = ModelEntry(id="m", results=[CheckResult.ok("loss_decrease", "ok")]).to_dict()
    b = ModelEntry(id="m", source="doc", layers=[LayerRow("d", "Dense", [None, 1], 2, 2, True)],
                   results=[CheckResult.fail("output_shape", "bad")])
    merged = merge_entries([a, b, ModelEntry(id="a")])
    assert [e.id for e in merged] == ["a", "m"]
    assert [r.check for r in merged[1].results] == ["output_shape", "loss_decrease"]
    assert merged[1].source == "doc" and merged[1].layers[0].name == "d"


def test_entries_from_the_plugins_flat_records():
    rows = [LayerRow("d", "Dense", [None, 1], 2, 2, True, expected_params=3).to_dict()]
    records = [
        {"nodeid": "a.toml::toy::loss_decrease", "model": "toy", "source": "a.toml", "known_fault": None,
         "result": CheckResult.ok("loss_decrease", "ok").to_dict()},
        {"nodeid": "a.toml::toy::param_count", "model": "toy", "source": "a.toml", "known_fault": None,
         "result": CheckResult.fail("param_count", "bad"), "layers": rows, "expected_total_params": 3},
        {"nodeid": "x.py::test_it", "model": None, "result": CheckResult.ok("output_shape", "ok", model="mine")},
    ]
    entries = entries_from_records(records)
    assert [e.id for e in entries] == ["mine", "toy"]
    toy = entries[1]
    assert [r.check for r in toy.results] == ["param_count", "loss_decrease"]
    assert toy.layers[0].expected_params == 3 and toy.expected_total_params == 3 and toy.source == "a.toml"


def test_run_fills_time_and_versions_without_importing_keras():
    run = Run()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", run.when)
    backend = run.versions["keras backend"]
    assert backend == os.environ["KERAS_BACKEND"]
    extra = set() if backend == "tensorflow" else {backend}
    assert set(run.versions) == {"modelcheck", "keras", "tensorflow", "python", "keras backend"} | extra
    assert run.versions["modelcheck"] != "not installed"


# --- layer_rows with a real model --------------------------------------------------------------------

@pytest.fixture
def mlp():
    import keras

    return keras.Sequential([
        keras.Input((28, 28)),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(200, activation="relu", name="hidden"),
        keras.layers.BatchNormalization(name="norm"),
        keras.layers.Dense(10, activation="softmax", name=EVIL_LAYER),
    ])


def test_layer_rows_read_like_model_summary(mlp):
    rows = layer_rows(mlp)
    assert [(r["name"], r["class_name"], r["output_shape"], r["params"], r["trainable"]) for r in rows] == [
        ("flatten", "Flatten", [None, 784], 0, True),
        ("hidden", "Dense", [None, 200], 157000, True),
        ("norm", "BatchNormalization", [None, 200], 800, True),
        (EVIL_LAYER, "Dense", [None, 10], 2010, True),
    ]
    assert rows[2]["trainable_params"] == 400  # moving mean and variance are not trainable
    assert sum(r["params"] for r in rows) == mlp.count_params()
    assert all(r["expected_params"] is None and r["expected_output_shape"] is None for r in rows)


def test_layer_rows_mark_differences_from_a_spec_by_name(mlp):
    spec = ModelSpec(id="mlp", layer_params={"hidden": 235500, "norm": 800, "dropout": 0},
                     layer_output_shapes={"hidden": (300,), EVIL_LAYER: (None,)})
    rows = {r["name"]: r for r in layer_rows(mlp, spec)}
    assert rows["hidden"]["expected_params"] == 235500
    assert rows["hidden"]["expected_output_shape"] == [None, 300]
    assert rows["norm"]["expected_params"] is None  # agrees
    assert rows[EVIL_LAYER]["expected_output_shape"] is None  # None in the spec is a wildcard
    assert rows["dropout"]["note"] == "missing from the model" and rows["dropout"]["class_name"] is None


def test_layer_rows_mark_differences_from_a_spec_by_position(mlp):
    spec = ModelSpec(id="mlp", layer_params=[0, 235500, 800], layer_output_shapes=[(784,), (200,), (200,), (10,), (5,)])
    rows = layer_rows(mlp, spec)
    assert [r["expected_params"] for r in rows[:4]] == [None, 235500, None, None]
    assert rows[3]["note"] == "not in the spec, which lists 3 layers"
    assert rows[4]["name"] == "layer #5" and rows[4]["expected_output_shape"] == [None, 5]
    entry = ModelEntry.from_spec(spec.replace(total_params=266610), [], model=mlp)
    assert entry.expected_total_params == 266610 and entry.total_params == 159810


def test_layer_rows_of_a_subclassed_model_have_no_shapes():
    import keras

    from tests.models import Tiny

    model = Tiny()
    model(keras.ops.zeros((1, 3)))
    (row,) = layer_rows(model, ModelSpec(id="t", layer_output_shapes=[(2,)]))
    assert row["output_shape"] is None and row["params"] == 8
    assert row["expected_output_shape"] is None  # nothing to compare with


# --- chart geometry ---------------------------------------------------------------------------------

def test_charts_of_empty_or_non_finite_data():
    assert loss_chart([]) is None
    assert grad_norm_chart({}) is None
    assert line_fit_chart({"x": [], "y": []}) is None
    all_nan = loss_chart(["nan", "nan"])
    assert all_nan["path"] == "" and len(all_nan["nonfinite"]) == 2
    flat = loss_chart([0.5, 0.5, 0.5])
    assert flat["path"].count("L") == 2 and not flat["log"]
    assert grad_norm_chart({"a": 0.0})["bars"][0]["value"] == "0 (no gradient)"


def test_failures_of_known_fault_models_are_counted_apart_on_the_index(tmp_path):
    from modelcheck.report import Run, render_report
    from modelcheck.core.result import CheckResult

    run = Run(models=[
        {"id": "good", "results": [CheckResult.ok("param_count", "fine").to_dict()]},
        {"id": "printed", "known_fault": "the document prints 105", "results": [
            CheckResult.fail("param_count", "105 vs 1,056").to_dict(), CheckResult.ok("output_shape", "ok").to_dict()]},
    ])
    assert run.counts() == {"passed": 2, "failed": 0, "error": 0, "skipped": 0, "known_fault": 1}
    html = (render_report(run, tmp_path)).read_text()
    assert 'data-count="known_fault"><b>1</b>known fault' in html
    assert 'data-count="failed"><b>0</b>' in html
