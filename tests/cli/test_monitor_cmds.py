"""``retrainer drift`` and ``retrainer estimate`` on CSV and Parquet files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from retrainer.cli.app import app
from retrainer.exceptions import DataError, UsageError

runner = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout


def run_json(*args: str) -> dict:
    code, out = run(*args, "--json")
    assert code == 0, out
    return json.loads(out)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("drift")
    rng = np.random.default_rng(90)
    n = 6000
    reference = pd.DataFrame({
        "temp": rng.normal(10, 5, n), "hour": rng.integers(0, 24, n),
        "wind": rng.choice(["N", "S", "E"], n), "load": rng.gamma(2, 3, n),
    })
    current = pd.DataFrame({
        "temp": rng.normal(13, 5, n), "hour": rng.integers(0, 24, n),
        "wind": rng.choice(["N", "S", "E", "W"], n), "load": rng.gamma(2, 3, n),
    })
    paths = {"ref_csv": root / "reference.csv", "ref_parquet": root / "reference.parquet",
             "cur_csv": root / "current.csv", "cur_parquet": root / "current.parquet"}
    reference.to_csv(paths["ref_csv"], index=False)
    reference.to_parquet(paths["ref_parquet"])
    current.to_csv(paths["cur_csv"], index=False)
    current.to_parquet(paths["cur_parquet"], row_group_size=1000)
    paths["root"] = root
    return paths


def test_drift_json_on_csv_and_parquet(files: dict[str, Path]) -> None:
    by_csv = run_json("drift", files["ref_csv"], files["cur_csv"])
    by_parquet = run_json("drift", files["ref_parquet"], files["cur_parquet"])
    assert by_csv == by_parquet
    assert set(by_csv["columns"]) == {"temp", "hour", "wind", "load"}
    assert by_csv["dataset_drift"] is True and by_csv["drifted_share"] == 0.5
    temp = by_csv["columns"]["temp"]
    assert {"method", "score", "threshold", "drifted", "stats"} <= set(temp)
    assert temp["drifted"] and temp["method"] in ("wasserstein", "psi", "mean_shift")
    assert {"psi", "ks", "ks_pvalue", "wasserstein", "js", "mean_shift",
            "variance_ratio"} <= set(temp["stats"])
    reference = pd.read_csv(files["ref_csv"])
    current = pd.read_csv(files["cur_csv"])
    expected = stats.ks_2samp(reference["temp"], current["temp"])
    assert temp["stats"]["ks"] == pytest.approx(expected.statistic, abs=1e-9)
    assert temp["stats"]["ks_pvalue"] == pytest.approx(expected.pvalue, abs=1e-9)
    assert by_csv["columns"]["wind"]["kind"] == "categorical"
    assert by_csv["columns"]["wind"]["stats"]["unseen_share"] > 0.2
    assert not by_csv["columns"]["hour"]["drifted"]


def test_column_selection_categorical_flag_and_the_table(files: dict[str, Path]) -> None:
    data = run_json("drift", files["ref_csv"], files["cur_parquet"], "--columns", "temp,hour",
                    "--categorical", "hour")
    assert list(data["columns"]) == ["temp", "hour"]
    assert data["columns"]["hour"]["kind"] == "categorical"
    code, out = run("drift", files["ref_csv"], files["cur_csv"])
    assert code == 0 and "temp" in out and "dataset drift" in out


def test_html_report(files: dict[str, Path]) -> None:
    html = files["root"] / "report.html"
    code, _ = run("drift", files["ref_csv"], files["cur_csv"], "--html", html)
    text = html.read_text()
    assert code == 0 and text.count("<svg") == 4 and "http://www.w3.org/2000/svg" in text
    assert "<script" not in text and "cdn" not in text.lower()


def test_saved_profile_streaming_and_calibration(files: dict[str, Path]) -> None:
    profile = files["root"] / "profile.json"
    exact = run_json("drift", files["ref_csv"], files["cur_parquet"], "--save-profile", profile)
    assert json.loads(profile.read_text())["format"] == 2
    from_profile = run_json("drift", profile, files["cur_parquet"])
    streamed = run_json("drift", profile, files["cur_parquet"], "--stream", "--batch-rows",
                        "1000")
    assert not from_profile["exact"] and exact["exact"] is False  # --save-profile: profile path
    for name in ("temp", "load"):
        a, b = from_profile["columns"][name]["stats"], streamed["columns"][name]["stats"]
        assert a["psi"] == pytest.approx(b["psi"], rel=1e-9)
        assert a["ks"] == pytest.approx(b["ks"], abs=1e-12)
    assert from_profile["drifted_share"] == streamed["drifted_share"]
    calibrated = run_json("drift", files["ref_csv"], files["cur_csv"], "--calibrate",
                          "--budget", "0.05")
    assert calibrated["calibration"]["budget"] == 0.05
    assert calibrated["columns"]["temp"]["thresholds"]["wasserstein"]["calibrated"] > 0


def test_weights_drive_the_verdict(files: dict[str, Path]) -> None:
    weights = files["root"] / "weights.json"
    weights.write_text(json.dumps({"hour": 1.0, "load": 1.0}))
    data = run_json("drift", files["ref_csv"], files["cur_csv"], "--weights", weights)
    assert data["weighting"] == "importance" and data["weighted_share"] == 0.0
    assert data["dataset_drift"] is False and data["drifted_share"] == 0.5


def test_weights_of_columns_not_compared_warn_and_weighing_none_is_an_error(
        files: dict[str, Path]) -> None:
    weights = files["root"] / "partly.json"
    weights.write_text(json.dumps({"temp": 1.0, "humidity": 2.0}))
    result = runner.invoke(app, ["drift", str(files["ref_csv"]), str(files["cur_csv"]),
                                 "--weights", str(weights), "--json"], catch_exceptions=False)
    assert result.exit_code == 0 and json.loads(result.stdout)["weighted_share"] == 1.0
    assert "--weights names ['humidity'], which are not compared" in result.stderr
    weights.write_text(json.dumps({"humidity": 2.0}))
    with pytest.raises(UsageError, match=r"names none of the compared columns \(columns: "
                                         r"\['temp', 'hour', 'wind', 'load'\]\)"):
        run("drift", files["ref_csv"], files["cur_csv"], "--weights", weights)
    profile = files["root"] / "weights_profile.json"
    run("drift", files["ref_csv"], files["cur_csv"], "--save-profile", profile)
    with pytest.raises(UsageError, match="names none of the compared columns"):
        run("drift", profile, files["cur_csv"], "--weights", weights)


def test_clear_errors(files: dict[str, Path]) -> None:
    root = files["root"]
    (root / "empty.csv").write_text("")
    (root / "header.csv").write_text("temp,hour,wind,load\n")
    bad = pd.read_csv(files["cur_csv"])
    bad["temp"] = bad["temp"].astype(object)
    bad.loc[3, "temp"] = "warm"
    bad.to_csv(root / "bad.csv", index=False)
    blank = pd.read_csv(files["cur_csv"])
    blank["load"] = np.nan
    blank.to_parquet(root / "blank.parquet")
    (root / "data.txt").write_text("x")
    cases = [
        ((files["ref_csv"], root / "empty.csv"), DataError, "is empty"),
        ((files["ref_csv"], root / "header.csv"), DataError, "has no rows"),
        ((files["ref_csv"], root / "bad.csv"), DataError, "'temp' should be numeric .*'warm'"),
        ((files["ref_csv"], root / "blank.parquet"), DataError, r"\['load'\] hold no values"),
        ((root / "blank.parquet", files["cur_csv"]), DataError, r"\['load'\] hold no values"),
        ((files["ref_csv"], files["cur_csv"], "--columns", "temp,nope"), DataError,
         r"lacks columns \['nope'\]"),
        ((files["ref_csv"], root / "missing.csv"), UsageError, "does not exist"),
        ((files["ref_csv"], root / "data.txt"), UsageError, "unsupported file type"),
        ((files["ref_csv"], files["cur_csv"], "--categorical", "zzz"), UsageError, "zzz"),
    ]
    for args, error, message in cases:
        with pytest.raises(error, match=message):
            run("drift", *args)
    with pytest.raises(UsageError, match=r"--html .*: a folder; name a file"):
        run("drift", files["ref_csv"], files["cur_csv"], "--html", root)


def test_outputs_go_into_folders_that_do_not_exist_yet(files: dict[str, Path]) -> None:
    html, profile = files["root"] / "new" / "r.html", files["root"] / "deeper" / "a" / "p.json"
    code, _ = run("drift", files["ref_csv"], files["cur_csv"], "--html", html,
                  "--save-profile", profile)
    assert code == 0 and "<svg" in html.read_text() and json.loads(profile.read_text())


def test_exit_codes_and_no_traceback_through_the_real_command(files: dict[str, Path]) -> None:
    root = files["root"]
    (root / "empty2.csv").write_text("")
    for args, code in (((files["ref_csv"], root / "empty2.csv"), 1),
                       ((files["ref_csv"], root / "nothing.parquet"), 2)):
        result = subprocess.run([sys.executable, "-m", "retrainer.cli.app", "drift",
                                 *map(str, args)], capture_output=True, text=True)
        assert result.returncode == code, result.stderr
        assert "error:" in result.stderr and "Traceback" not in result.stderr


def test_drift_imports_neither_mlflow_nor_scipy_stats(files: dict[str, Path]) -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from retrainer.cli.app import app\n"
        f"r = CliRunner().invoke(app, ['drift', {str(files['ref_csv'])!r}, "
        f"{str(files['cur_parquet'])!r}, '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in ('mlflow', 'scipy.stats', 'sklearn') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture(scope="module")
def classifier_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("estimate")
    rng = np.random.default_rng(91)

    def population(n: int, centre: float) -> pd.DataFrame:
        x = rng.normal(centre, 1, n)
        proba = 1 / (1 + np.exp(-2 * x))
        return pd.DataFrame({"p": proba, "pred": (proba > 0.5).astype(int),
                             "y": (rng.uniform(size=n) < proba).astype(int)})

    reference, analysis = population(20_000, 0.0), population(10_000, 1.0)
    paths = {"ref": root / "reference.parquet", "csv": root / "analysis.csv",
             "unlabelled": root / "unlabelled.parquet", "root": root}
    reference.to_parquet(paths["ref"])
    analysis.to_csv(paths["csv"], index=False)
    analysis.drop(columns="y").to_parquet(paths["unlabelled"])
    return paths


def test_estimate_json(classifier_files: dict[str, Path]) -> None:
    flags = ["--y-pred-proba", "p", "--y-pred", "pred", "--y-true", "y"]
    labelled = run_json("estimate", classifier_files["ref"], classifier_files["csv"], *flags,
                        "--chunk-size", "2500")
    assert [(c["start"], c["end"]) for c in labelled["chunks"]] == [
        (0, 2500), (2500, 5000), (5000, 7500), (7500, 10_000)]
    for chunk in labelled["chunks"]:
        assert set(chunk["estimated"]) >= {"accuracy", "roc_auc"}
        realised = chunk["realised"]
        assert chunk["estimated"]["accuracy"] == pytest.approx(realised["accuracy"], abs=0.03)
        assert chunk["estimated"]["roc_auc"] == pytest.approx(realised["roc_auc"], abs=0.03)
    unlabelled = run_json("estimate", classifier_files["ref"], classifier_files["unlabelled"],
                          *flags)
    assert len(unlabelled["chunks"]) == 10
    assert all(c["realised"] is None for c in unlabelled["chunks"])
    assert [c["estimated"] for c in unlabelled["chunks"][:4]] != []
    code, out = run("estimate", classifier_files["ref"], classifier_files["csv"], *flags)
    assert code == 0 and "ROC AUC" in out


def test_estimate_errors(classifier_files: dict[str, Path]) -> None:
    root = classifier_files["root"]
    frame = pd.read_csv(classifier_files["csv"])
    broken = frame.assign(p=frame["p"] * 3)
    broken.to_csv(root / "range.csv", index=False)
    frame.assign(p=np.nan).to_csv(root / "nan.csv", index=False)
    frame.assign(pred=np.where(frame["pred"] == 1, "yes", "no")).to_csv(root / "words.csv",
                                                                        index=False)
    flags = ["--y-pred-proba", "p", "--y-pred", "pred", "--y-true", "y"]
    cases = [("range.csv", "probabilities in \\[0, 1\\]"), ("nan.csv", "holds no values"),
             ("words.csv", "0/1 labels")]
    for name, message in cases:
        with pytest.raises(DataError, match=message):
            run("estimate", classifier_files["ref"], root / name, *flags)
    with pytest.raises(DataError, match=r"lacks columns \['q'\]"):
        run("estimate", classifier_files["ref"], classifier_files["csv"], "--y-pred-proba", "q",
            "--y-pred", "pred", "--y-true", "y")


@pytest.fixture(scope="module")
def target_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Stable features; the targets shift (a count and a class label); some labels missing."""
    root = tmp_path_factory.mktemp("target")
    rng = np.random.default_rng(92)
    n = 4000

    def frame(cnt_mean: float, rain: float) -> pd.DataFrame:
        return pd.DataFrame({
            "temp": rng.normal(10, 5, n), "wind": rng.choice(["N", "S", "E"], n),
            "cnt": rng.poisson(cnt_mean, n).astype(float),
            "label": rng.choice(["rain", "dry"], n, p=[rain, 1 - rain]),
        })

    reference, current = frame(100, 0.2), frame(130, 0.5)
    current.loc[:499, "cnt"] = np.nan  # labels that have not arrived yet
    paths = {"ref": root / "reference.csv", "cur": root / "current.csv",
             "cur_parquet": root / "current.parquet", "root": root}
    reference.to_csv(paths["ref"], index=False)
    current.to_csv(paths["cur"], index=False)
    current.to_parquet(paths["cur_parquet"], row_group_size=1000)
    return paths


def test_target_drift_is_reported_apart_from_the_verdict(
        target_files: dict[str, Path]) -> None:
    ref, cur = target_files["ref"], target_files["cur"]
    as_feature = run_json("drift", ref, cur, "--columns", "temp,wind,cnt")
    assert as_feature["dataset_drift"] is True and as_feature["target"] is None
    data = run_json("drift", ref, cur, "--columns", "temp,wind", "--target", "cnt")
    assert list(data["columns"]) == ["temp", "wind"]
    assert data["dataset_drift"] is False and data["drifted_share"] == 0.0
    assert data["weighted_share"] == 0.0 and "cnt" not in data["weights"]
    target = data["target"]
    assert target["column"] == "cnt" and target["kind"] == "numeric" and target["drifted"]
    assert set(target) >= {"method", "score", "threshold", "stats", "reasons"}
    # exact, on the labelled rows only: the missing labels are not a drift of the target
    labels = pd.read_csv(ref)["cnt"], pd.read_csv(cur)["cnt"].dropna()
    assert target["stats"]["n"] == 3500 and target["stats"]["null_share"] == 0.0
    assert target["stats"]["ks"] == pytest.approx(stats.ks_2samp(*labels).statistic, abs=1e-9)
    assert as_feature["columns"]["cnt"]["stats"]["null_share"] == 0.125
    default = run_json("drift", ref, cur, "--target", "label")  # all other common columns
    assert set(default["columns"]) == {"temp", "wind", "cnt"}
    code, out = run("drift", ref, cur, "--columns", "temp,wind", "--target", "cnt")
    assert code == 0 and "no dataset drift" in out and "target cnt drifted: " in out


def test_classification_targets_are_categorical(target_files: dict[str, Path]) -> None:
    ref, cur = target_files["ref"], target_files["cur"]
    label = run_json("drift", ref, cur, "--columns", "temp", "--target", "label")["target"]
    assert label["kind"] == "categorical" and label["drifted"] and "chi2" in label["stats"]
    listed = run_json("drift", ref, cur, "--columns", "temp", "--target", "cnt",
                      "--categorical", "cnt")["target"]
    assert listed["kind"] == "categorical" and "unseen_share" in listed["stats"]
    code, out = run("drift", ref, ref, "--columns", "temp", "--target", "label")
    assert code == 0 and "target label stable" in out


def test_html_has_a_target_section_above_the_features(target_files: dict[str, Path]) -> None:
    html = target_files["root"] / "target.html"
    code, _ = run("drift", target_files["ref"], target_files["cur"], "--columns", "temp,wind",
                  "--target", "cnt", "--html", html)
    text = html.read_text()
    assert code == 0 and text.count("<svg") == 3
    assert (text.index("<h2>Target</h2>") < text.index("id='col-cnt'")
            < text.index("<h2>Features</h2>") < text.index("href='#col-temp'"))
    assert "href='#col-cnt'" not in text  # not a row of the feature table


def test_saved_profile_keeps_the_target_reference(target_files: dict[str, Path]) -> None:
    root, ref, cur = target_files["root"], target_files["ref"], target_files["cur"]
    profile = root / "target_profile.json"
    exact = run_json("drift", ref, cur, "--columns", "temp,wind", "--target", "label")
    saved = run_json("drift", ref, cur, "--columns", "temp,wind", "--target", "label",
                     "--save-profile", profile)
    stored = json.loads(profile.read_text())
    assert list(stored["columns"]) == ["temp", "wind"]
    assert stored["target"]["column"] == "label"
    assert stored["target"]["spec"]["kind"] == "categorical"
    html = root / "profile_target.html"
    from_profile = run_json("drift", profile, target_files["cur_parquet"], "--target", "label",
                            "--html", html)
    streamed = run_json("drift", profile, target_files["cur_parquet"], "--target", "label",
                        "--stream", "--batch-rows", "1000")
    for data in (saved, from_profile, streamed):
        assert not data["exact"] and data["dataset_drift"] is False
        assert data["target"]["drifted"] and data["target"]["column"] == "label"
        # categorical statistics from a profile are exact
        assert data["target"]["stats"]["chi2"] == pytest.approx(
            exact["target"]["stats"]["chi2"], rel=1e-9)
    text = html.read_text()
    assert "<h2>Target</h2>" in text and text.count("<svg") == 3


def test_target_errors_exit_2(target_files: dict[str, Path]) -> None:
    root, ref, cur = target_files["root"], target_files["ref"], target_files["cur"]
    plain = root / "plain_profile.json"
    run_json("drift", ref, cur, "--columns", "temp", "--save-profile", plain)
    pd.read_csv(cur).drop(columns="label").to_csv(root / "unlabelled.csv", index=False)
    cases = [
        ((plain, cur, "--target", "label"), "holds no target reference"),
        ((ref, cur, "--target", "nope"), "REFERENCE .* has no such column"),
        ((ref, root / "unlabelled.csv", "--target", "label"), "CURRENT .* has no such column"),
    ]
    for args, message in cases:
        with pytest.raises(UsageError, match=message):
            run("drift", *args)
        result = subprocess.run([sys.executable, "-m", "retrainer.cli.app", "drift",
                                 *map(str, args)], capture_output=True, text=True)
        assert result.returncode == 2, result.stderr
        assert "error:" in result.stderr and "Traceback" not in result.stderr


def test_with_a_model_its_time_column_is_left_out_and_its_target_reported_apart(
        files: dict[str, Path], tmp_path: Path) -> None:
    times = pd.date_range("2024-01-01", periods=6000, freq="h")
    for name, shift in (("ref", 0), ("cur", 6000)):
        frame = pd.read_csv(files[f"{name}_csv"])
        frame["time"] = times + pd.Timedelta(hours=shift)  # a new time in every row
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    config = tmp_path / "retrainer.yaml"
    config.write_text("models:\n  - name: m\n    source: {kind: csv, path: ref.csv}\n"
                      "    time_column: time\n    target: load\n    task: regression\n")
    found = run_json("-c", config, "drift", tmp_path / "ref.csv", tmp_path / "cur.csv",
                     "--model", "m")
    assert set(found["columns"]) == {"temp", "hour", "wind"}
    assert found["target"]["column"] == "load"


def test_a_column_of_dates_is_not_compared_unless_asked_for(
        files: dict[str, Path], tmp_path: Path) -> None:
    days = pd.date_range("2024-01-01", periods=6000, freq="h").strftime("%Y-%m-%d %H:%M")
    for name, shift in (("ref", 0), ("cur", 1)):
        frame = pd.read_csv(files[f"{name}_csv"])
        frame["stamp"] = days if shift == 0 else days.str.replace("2024", "2025")
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    found = run_json("drift", tmp_path / "ref.csv", tmp_path / "cur.csv")
    assert "stamp" not in found["columns"] and "temp" in found["columns"]
    asked = run_json("drift", tmp_path / "ref.csv", tmp_path / "cur.csv", "--columns",
                     "temp,stamp")
    assert asked["columns"]["stamp"]["drifted"]
