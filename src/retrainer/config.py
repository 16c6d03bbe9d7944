"""retrainer.yaml as pydantic models, and the environment settings (RETRAINER_*).

A config is validated when it is loaded; ``load_config`` raises ``ConfigError`` with
every problem found (dotted field path and reason), never a traceback.

>>> parse_duration("180d"), parse_duration("90m"), parse_duration(30)
(datetime.timedelta(days=180), datetime.timedelta(seconds=5400), datetime.timedelta(seconds=30))
>>> parse_fraction("15%"), parse_fraction(0.2)
(0.15, 0.2)
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from retrainer.domain.jobs import RetryPolicy
from retrainer.domain.metrics import METRICS, Task, default_metric, metrics_for
from retrainer.domain.readings import Severity
from retrainer.exceptions import ConfigError, ConfigProblem

DEFAULT_CONFIG_FILE = "retrainer.yaml"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> Any:
    """'90s', '15m', '12h', '180d', '2w' or a number of seconds -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '7d', '12h' or a number of seconds")
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
        if value.startswith("P"):  # ISO 8601, as written by model_dump(mode="json")
            try:
                return TypeAdapter(timedelta).validate_python(value)
            except ValidationError:
                pass
    raise ValueError(f"{value!r} is not a duration such as '7d', '12h', '30m' or '90s'")


def format_duration(value: timedelta) -> str:
    """The shortest exact form: 365d, 12h, 90s.

    >>> format_duration(timedelta(days=365)), format_duration(timedelta(minutes=90))
    ('365d', '90m')
    """
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def parse_fraction(value: Any) -> Any:
    """'15%' -> 0.15; numbers pass through."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100.0
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage such as '15%'") from None
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


#: a span that must hold time: a window, a schedule's interval
PositiveDuration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive)]
Fraction = Annotated[float, BeforeValidator(parse_fraction), Field(ge=0.0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- project -------------------------------------------------------------------------------

EVENT_NAMES = Literal[
    "trigger_fired", "data_not_ready", "job_failed", "candidate_rejected", "promoted", "rolled_back"
]


class WebhookTarget(Strict):
    kind: Literal["webhook"] = "webhook"
    url: str = Field(pattern=r"^https?://", description="http(s) URL that receives a JSON POST")
    events: list[EVENT_NAMES] | None = None  # None: every event
    headers: dict[str, str] = {}
    timeout_seconds: float = Field(5.0, gt=0)
    max_attempts: int = Field(3, ge=1, le=10)


class ProjectConfig(Strict):
    state_store_url: str = "sqlite:///.retrainer/state.db"
    mlflow_tracking_uri: str = "sqlite:///.retrainer/mlflow.db"
    mlflow_artifact_location: str = ".retrainer/mlartifacts"
    notifications: list[WebhookTarget] = []


class RetryConfig(Strict):
    max_retries: int = Field(2, ge=0)
    base_delay_seconds: float = Field(30.0, ge=0)
    backoff: float = Field(2.0, ge=1.0)
    jitter: float = Field(0.2, ge=0.0, le=1.0)
    max_delay_seconds: float = Field(3600.0, ge=0)

    def policy(self) -> RetryPolicy:
        return RetryPolicy(**self.model_dump())


class ExecutorConfig(Strict):
    # local: worker processes; inline: in the calling process, one job at a time
    kind: Literal["local", "inline"] = "local"
    max_concurrency: int = Field(1, ge=1, le=64)
    timeout_seconds: float = Field(3600.0, gt=0)
    heartbeat_seconds: float = Field(5.0, gt=0)
    stale_after_seconds: float = Field(60.0, gt=0)
    retry: RetryConfig = RetryConfig()

    @model_validator(mode="after")
    def _stale_after_heartbeats(self) -> ExecutorConfig:
        if self.stale_after_seconds <= 2 * self.heartbeat_seconds:
            raise ValueError("stale_after_seconds must exceed two heartbeat intervals")
        return self


# --- data ----------------------------------------------------------------------------------


class FileSource(Strict):
    kind: Literal["csv", "parquet"]
    path: str
    # extra keyword arguments for pandas.read_csv (csv only)
    options: dict[str, Any] = {}


class SqlSource(Strict):
    kind: Literal["sql"]
    url: str
    # may use :start and :end, bound to the window's bounds
    query: str


class ReplaySource(Strict):
    """History held in memory by ``retrainer backtest`` (not for hand-written configs)."""

    kind: Literal["replay"]
    name: str


Source = Annotated[FileSource | SqlSource | ReplaySource, Field(discriminator="kind")]


class LabelsConfig(Strict):
    """Labels that arrive later than the rows they label, joined by the model's id_column."""

    source: Source
    time_column: str | None = None  # the labelled rows' event time; default: the model's
    label_column: str | None = None  # default: the model's target


class ReadinessConfig(Strict):
    max_null_share: Fraction = Field(0.2, le=1.0)  # per feature column
    # a feature already this sparse in production's training rows may be up to this much
    # more so: a column that is often empty by nature is not a broken pipeline
    max_null_share_rise: Fraction = Field(0.1, le=1.0)
    max_label_null_share: Fraction = Field(0.5, le=1.0)
    max_staleness: Duration | None = None  # newest row must be at most this old at as_of


# --- monitors ------------------------------------------------------------------------------

NumericMethod = Literal[
    "ks", "psi", "wasserstein", "js", "mean_shift", "variance_ratio", "null_share"
]
CategoricalMethod = Literal["chi2", "psi", "js", "unseen_share", "null_share"]
DriftMethod = Literal[
    "auto", "ks", "psi", "wasserstein", "js", "mean_shift", "variance_ratio", "chi2",
    "unseen_share", "null_share",
]
VarianceBounds = tuple[float, float]


def _bounds_ordered(value: VarianceBounds | None) -> VarianceBounds | None:
    if value is not None and not 0 < value[0] < value[1]:
        raise ValueError("must be [low, high] with 0 < low < high")
    return value


class NumericDriftRules(Strict):
    # auto: "ks" below drift.small_sample values, else every effect size with a threshold
    # (psi, wasserstein, js, mean_shift, variance_ratio); or a method / a list of methods
    method: Literal["auto"] | NumericMethod | list[NumericMethod] = "auto"
    ks_alpha: float = Field(0.01, gt=0, lt=1)
    psi: float | None = Field(0.25, gt=0)
    wasserstein: float | None = Field(0.1, gt=0)  # W1 / reference standard deviation
    js: float | None = Field(None, gt=0, le=1)  # Jensen-Shannon distance (base 2)
    mean_shift: Fraction | None = 0.25  # |mean - ref_mean| / max(|ref_mean|, ref_std)
    variance_ratio: VarianceBounds | None = (0.5, 2.0)
    bins: int = Field(10, ge=2, le=100)  # quantile bins for psi and js
    sketch_size: int = Field(500, ge=16, le=20_000)  # reference quantiles kept for ks/wasserstein

    _ordered = field_validator("variance_ratio")(_bounds_ordered)


class CategoricalDriftRules(Strict):
    # auto: "chi2" below drift.small_sample values, else "psi" (and "js" when it has a threshold)
    method: Literal["auto"] | CategoricalMethod | list[CategoricalMethod] = "auto"
    psi: float = Field(0.25, gt=0)
    chi2_alpha: float = Field(0.01, gt=0, lt=1)
    js: float | None = Field(None, gt=0, le=1)
    unseen_share: Fraction | None = Field(None, le=1.0)  # share of values the reference lacks


class ColumnDriftOverride(Strict):
    ignore: bool = False
    severity: Severity | None = None
    weight: float | None = Field(None, ge=0)  # replaces the feature importance in the verdict
    method: DriftMethod | list[DriftMethod] | None = None
    small_sample: int | None = Field(None, ge=1)
    ks_alpha: float | None = Field(None, gt=0, lt=1)
    psi: float | None = Field(None, gt=0)
    wasserstein: float | None = Field(None, gt=0)
    js: float | None = Field(None, gt=0, le=1)
    mean_shift: Fraction | None = None
    variance_ratio: VarianceBounds | None = None
    chi2_alpha: float | None = Field(None, gt=0, lt=1)
    unseen_share: Fraction | None = Field(None, le=1.0)
    null_share: Fraction | None = Field(None, le=1.0)

    _ordered = field_validator("variance_ratio")(_bounds_ordered)


class DriftCalibrationConfig(Strict):
    enabled: bool = False
    # share of same-distribution windows on which any column (so the verdict) may fire
    budget: Fraction = Field(0.01, gt=0, le=0.5)
    windows: int = Field(1000, ge=100, le=20_000)  # bootstrap pseudo-windows
    seed: int = 0


class DriftMonitorConfig(Strict):
    enabled: bool = True
    numeric: NumericDriftRules = NumericDriftRules()
    categorical: CategoricalDriftRules = CategoricalDriftRules()
    # a column with fewer non-null values than this in the window is a small sample
    small_sample: int = Field(1000, ge=1)
    null_share: Fraction | None = Field(0.1, le=1.0)  # absolute change of the missing share
    # the dataset drifts when the importance-weighted share of drifted columns reaches this
    dataset_share: Fraction = Field(0.3, gt=0, le=1.0)
    weighting: Literal["importance", "uniform"] = "importance"
    calibration: DriftCalibrationConfig = DriftCalibrationConfig()
    severity: Severity = Severity.WARNING  # severity of a drifted column unless overridden
    columns: dict[str, ColumnDriftOverride] = {}
    # also judge the target's drift (label shift) on the window's labelled rows, against the
    # version's training target; reported apart, never part of the dataset verdict
    target: bool = True


class PerformanceRule(Strict):
    metric: str | None = None  # default: the validation metric
    degradation: Fraction  # relative worsening vs the version's validation baseline
    severity: Severity = Severity.HIGH


class PerformanceMonitorConfig(Strict):
    enabled: bool = True
    rules: list[PerformanceRule] = [
        PerformanceRule(degradation=0.15, severity=Severity.HIGH),
        PerformanceRule(degradation=0.30, severity=Severity.CRITICAL),
    ]


class FairnessMonitorConfig(Strict):
    enabled: bool = False
    sensitive: list[str] = []  # columns whose groups are compared (classification models)
    positive: bool | int | float | str = 1  # the favourable predicted class
    max_parity_gap: Fraction | None = Field(0.1, le=1.0)  # demographic-parity gap
    max_odds_gap: Fraction | None = Field(0.1, le=1.0)  # equalised-odds gap
    min_group_rows: int = Field(30, ge=1)
    severity: Severity = Severity.WARNING


class LatencyMonitorConfig(Strict):
    enabled: bool = False
    column: str = "latency_ms"  # prediction latency, a column of the monitoring window
    p50: float | None = Field(None, gt=0)  # limits in the column's unit
    p95: float | None = Field(None, gt=0)
    p99: float | None = Field(None, gt=0)
    severity: Severity = Severity.WARNING


class MonitorsConfig(Strict):
    drift: DriftMonitorConfig = DriftMonitorConfig()
    performance: PerformanceMonitorConfig = PerformanceMonitorConfig()
    fairness: FairnessMonitorConfig = FairnessMonitorConfig()
    latency: LatencyMonitorConfig = LatencyMonitorConfig()


# --- triggers ------------------------------------------------------------------------------


class DriftTriggerConfig(Strict):
    enabled: bool = True
    # None: fire on the drift monitor's dataset verdict (monitors.drift.dataset_share);
    # a share: fire when the importance-weighted share of drifted columns reaches it
    min_drifted_share: Fraction | None = Field(None, le=1.0)
    # a single drifted column at or above this severity fires on its own
    fire_on_severity: Severity = Severity.CRITICAL
    # a drifted target (label shift, monitors.drift.target) fires on its own
    on_target_drift: bool = True


class PerformanceTriggerConfig(Strict):
    enabled: bool = True
    min_severity: Severity = Severity.HIGH


class ScheduleTriggerConfig(Strict):
    cron: str | None = None
    every: PositiveDuration | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ScheduleTriggerConfig:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of 'cron' or 'every'")
        if self.cron is not None:
            from croniter import croniter

            if not croniter.is_valid(self.cron):
                raise ValueError(f"{self.cron!r} is not a valid cron expression")
        return self


BudgetPeriod = Literal["day", "week", "month", "weekend"]


class BudgetConfig(Strict):
    max_retrains: int = Field(ge=1)
    # a rolling duration ('7d') or a calendar period; 'weekend' budgets Saturday+Sunday only
    period: BudgetPeriod | Duration


class AutoTriggerConfig(Strict):
    """Retrain once waiting has lost more than a retrain costs (triggers/auto.py). A metric
    point is 1% of the metric; the value of a point is per day, at the typical loss. On by
    default: it is the policy the backtests measure against the others."""

    enabled: bool = True
    cost_per_retrain: float = Field(1.0, gt=0)
    value_per_metric_point: float = Field(0.004, gt=0)
    # points (1% of the metric) a fresh model wins per day the production model has aged;
    # with the cost model it sets the base interval, the loss clock moves each retrain
    gain_rate: float = Field(0.5, gt=0)
    # what the validation gate's verdicts do to gain_rate: "raise" it when they measure more
    # (a lower bound: candidates are scored without their newest rows, and on small holdouts
    # most are rejected), "learn" it either way (gain_rate is then worth prior_days of
    # evidence), or "off"
    learn_gain_rate: Literal["off", "raise", "learn"] = "raise"
    prior_days: float = Field(30.0, gt=0)
    min_interval: Duration = timedelta(days=3)  # never sooner after the last retrain
    max_interval: Duration = timedelta(days=90)  # always by then, whatever the signals
    # while labels lag, a tick whose drift monitor flags the dataset counts its loss as
    # (1 + drift_weight x importance-weighted drifted share) times the last measured loss
    drift_weight: float = Field(1.0, ge=0)
    # the span whose labelled windows set the typical loss the clock divides by: a year holds
    # every season, and a target that grows over the years does not age each model faster
    typical_window: PositiveDuration = timedelta(days=365)

    @model_validator(mode="after")
    def _interval_order(self) -> AutoTriggerConfig:
        if self.max_interval <= self.min_interval:
            raise ValueError("max_interval must be longer than min_interval")
        return self


class TriggersConfig(Strict):
    """``auto`` is on unless switched off. The drift and performance triggers are on only
    where their section is written (their monitors run either way and feed ``auto``'s loss
    clock): on Beijing PM2.5 and Elec2 the drift trigger alone retrained as often as
    retraining after every batch (benchmarks/README.md)."""

    auto: AutoTriggerConfig = AutoTriggerConfig()
    drift: DriftTriggerConfig = DriftTriggerConfig(enabled=False)
    performance: PerformanceTriggerConfig = PerformanceTriggerConfig(enabled=False)
    schedule: ScheduleTriggerConfig | None = None
    debounce_seconds: float = Field(0.0, ge=0)
    cooldown: Duration = timedelta(0)
    budget: BudgetConfig | None = None


# --- training and validation ---------------------------------------------------------------


def _amount(value: float | str) -> float | str:
    """A non-negative amount: a number in metric units, or a percentage string such as '2%'."""
    if isinstance(value, str):
        parse_fraction(value)
        if not value.strip().endswith("%"):
            raise ValueError("use a number (metric units) or a percentage such as '2%'")
        if parse_fraction(value) < 0:
            raise ValueError("must be >= 0")
    elif value < 0:
        raise ValueError("must be >= 0")
    return value


#: a number in the metric's units (0.02 AUC) or relative with '%' ('2%' of the champion's value)
Amount = Annotated[float | str, AfterValidator(_amount)]


def amount_value(value: float | str) -> tuple[float, bool]:
    """(number, relative?) of an Amount: ``'2%'`` -> (0.02, True), ``0.5`` -> (0.5, False)."""
    return float(parse_fraction(value)), isinstance(value, str)


class SearchParam(Strict):
    """One hyperparameter's search range (Optuna distribution)."""

    type: Literal["float", "int", "categorical"] = "float"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _range(self) -> SearchParam:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical parameter needs a non-empty 'choices' list")
            return self
        if self.low is None or self.high is None or not self.low < self.high:
            raise ValueError("give 'low' < 'high'")
        if self.log and self.low <= 0:
            raise ValueError("a log-scaled range needs low > 0")
        return self


class TuningConfig(Strict):
    # Optuna trials per job (0: no tuning, the trainer's params as given)
    n_trials: int = Field(0, ge=0, le=10_000)
    timeout: Duration | None = None  # per attempt; a resumed study gets a fresh budget
    pruning: bool = True  # median pruner fed by the boosters' per-round validation loss
    # per-parameter overrides of the trainer's default space; null drops a default parameter
    search_space: dict[str, SearchParam | None] = {}
    use_default_space: bool = True


class CrossValidationConfig(Strict):
    # expanding-window folds over the rows before the holdout (sklearn TimeSeriesSplit layout)
    folds: int = Field(3, ge=2, le=20)
    gap: Duration = timedelta(0)  # training rows this close before a fold's test are dropped


class WarmStartConfig(Strict):
    # continue from the production booster when features and types are unchanged
    enabled: bool = True
    n_estimators: int = Field(300, ge=1)  # most rounds added; early stopping picks how many
    max_chain: int = Field(3, ge=1)  # consecutive warm versions before a full fit is forced


class TrainingConfig(Strict):
    # lightgbm | xgboost | any scikit-learn estimator as 'package.module:Class'
    trainer: str = "lightgbm"
    params: dict[str, Any] = {}
    holdout_fraction: float = Field(0.2, gt=0, lt=0.9)
    # after the holdout has judged the candidate, fit the same recipe (hyperparameters, warm
    # start) again on the whole window, holdout included, and register that: fresher, but
    # not the exact model the gate scored (lineage keeps both fits' row counts and rounds)
    refit_on_holdout: bool = False
    # slice before the holdout used for early stopping (boosters only)
    early_stopping_fraction: float = Field(0.1, ge=0, lt=0.5)
    early_stopping_rounds: int = Field(50, ge=1)
    seed: int = 0
    cv: CrossValidationConfig = CrossValidationConfig()
    tuning: TuningConfig = TuningConfig()
    warm_start: WarmStartConfig = WarmStartConfig()

    @field_validator("trainer")
    @classmethod
    def _known_trainer(cls, value: str) -> str:
        if value in ("lightgbm", "xgboost") or re.match(r"^[\w.]+:[\w]+$", value):
            return value
        raise ValueError("use 'lightgbm', 'xgboost' or a scikit-learn estimator 'module:Class'")


#: tests on per-row losses (holdout), on the metric itself, or on CV fold scores
ROW_LOSS_TESTS = ("diebold_mariano", "paired_t", "wilcoxon")
TEST_NAMES = Literal[
    "diebold_mariano", "paired_t", "wilcoxon", "bootstrap", "delong", "cv_paired_t", "none"
]


class BootstrapConfig(Strict):
    resamples: int = Field(1000, ge=100, le=100_000)
    # moving-block length in rows (autocorrelated rows); None: round(n ** (1/3)); 1: iid
    block_length: int | None = Field(None, ge=1)
    seed: int = 0


class NonInferiorityConfig(Strict):
    # the candidate may be at most this much worse than production (metric units or '%')
    margin: Amount
    # jobs from these triggers only need to be "not worse"; others must be better
    triggers: list[str] = ["schedule"]


class ChallengerConfig(Strict):
    """A rejected candidate stays a challenger: the gate looks at it again as labels arrive.

    A holdout of a few days often cannot prove a fresh model better. The newest rejected
    candidate (trained after production) is scored with production on every labelled row
    neither has seen, from its holdout on; each time that evidence has grown ``growth``
    times, the gate runs again with ``alpha / max_looks`` (Bonferroni over the extra looks),
    and the candidate is promoted if it passes. Not with ``test: cv_paired_t``, which
    compares CV folds rather than rows.
    """

    enabled: bool = False  # measured: helps fixed schedules, mixed for auto (benchmarks/)
    max_age: Duration = timedelta(days=28)  # counted from the candidate's job
    growth: float = Field(2.0, gt=1.0)
    max_looks: int = Field(3, ge=1, le=20)


class SliceCheck(Strict):
    column: str  # e.g. station or segment: any column of the data, a feature or not
    max_regression: Amount = "5%"  # how much worse than production one slice may get
    min_rows: int = Field(50, ge=1)  # smaller slices are reported, not judged


class ValidationConfig(Strict):
    metric: str | None = None  # default: rmse (regression) / roc_auc (classification)
    # absolute in the metric's units (0.02 AUC) or relative with '%' ('2%' better RMSE)
    min_improvement: Amount = 0.0
    test: TEST_NAMES = "diebold_mariano"
    # the row losses a row-loss test compares: the metric's own (squared error for RMSE, 0/1
    # for accuracy, log loss for ROC AUC) or, for classifiers, log loss: far more power than
    # 0/1 on a holdout of a few hundred rows, while the improvement is still in the metric
    test_loss: Literal["metric", "log_loss"] = "metric"
    alpha: float = Field(0.05, gt=0, lt=1)
    # max_<metric> / min_<metric>: absolute limits every candidate must meet
    gates: dict[str, float] = {}
    bootstrap: BootstrapConfig = BootstrapConfig()
    non_inferiority: NonInferiorityConfig | None = None
    challenger: ChallengerConfig = ChallengerConfig()
    slices: list[SliceCheck] = []
    metric_ci: bool = True  # bootstrap CIs of the holdout metrics, stored with the version

    @model_validator(mode="after")
    def _test_fits_metric(self) -> ValidationConfig:
        if self.test == "delong" and self.metric != "roc_auc":
            raise ValueError("test 'delong' compares ROC AUCs: set metric: roc_auc")
        if self.test_loss != "metric" and self.test not in ROW_LOSS_TESTS:
            raise ValueError(f"test_loss applies to the row-loss tests {list(ROW_LOSS_TESTS)}, "
                             f"not {self.test!r}")
        if self.test_loss != "metric" and self.non_inferiority is not None:
            raise ValueError("a non-inferiority margin is in the metric's units; it cannot be "
                             "tested on log loss (drop test_loss or non_inferiority)")
        return self

    @property
    def min_improvement_relative(self) -> bool:
        return isinstance(self.min_improvement, str)

    @property
    def min_improvement_value(self) -> float:
        return float(parse_fraction(self.min_improvement))


# --- models --------------------------------------------------------------------------------


class ModelConfig(Strict):
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
    source: Source
    time_column: str
    target: str
    task: Task
    features: list[str] | None = None  # None: every column but target, time and exclude
    exclude: list[str] = []
    categorical: list[str] = []
    id_column: str | None = None
    labels: LabelsConfig | None = None  # late labels, joined into every window by id_column
    training_window: PositiveDuration = timedelta(days=180)
    monitoring_window: PositiveDuration = timedelta(days=7)
    min_rows: int = Field(10_000, ge=1)
    readiness: ReadinessConfig = ReadinessConfig()
    monitors: MonitorsConfig = MonitorsConfig()
    triggers: TriggersConfig = TriggersConfig()
    training: TrainingConfig = TrainingConfig()
    validation: ValidationConfig = ValidationConfig()

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        if self.labels is not None and self.id_column is None:
            raise ValueError("labels need id_column: the column that joins a label to its row")
        special = {self.time_column, self.target}
        if self.features is not None:
            overlap = special & set(self.features)
            if overlap:
                raise ValueError(f"features must not include {sorted(overlap)}")
            missing = set(self.categorical) - set(self.features)
            if missing:
                raise ValueError(f"categorical columns {sorted(missing)} are not in features")
        if self.validation.test_loss == "log_loss" and self.task is not Task.CLASSIFICATION:
            raise ValueError("validation.test_loss: log_loss needs a classification model "
                             "(a regression has no class probabilities)")
        metric = self.metric
        if metric not in METRICS or METRICS[metric].task is not self.task:
            raise ValueError(
                f"validation.metric {metric!r} is not a {self.task} metric; "
                f"use one of {metrics_for(self.task)}"
            )
        for gate in self.validation.gates:
            kind, _, name = gate.partition("_")
            if kind not in ("max", "min") or name not in metrics_for(self.task):
                raise ValueError(
                    f"validation.gates key {gate!r} must be max_<metric> or min_<metric> "
                    f"with a {self.task} metric: {metrics_for(self.task)}"
                )
        for rule in self.monitors.performance.rules:
            if rule.metric is not None and rule.metric not in metrics_for(self.task):
                raise ValueError(
                    f"monitors.performance metric {rule.metric!r} is not a {self.task} metric"
                )
        return self

    @property
    def metric(self) -> str:
        return self.validation.metric or default_metric(self.task)

    def feature_columns(self, available: list[str]) -> list[str]:
        """The features in use given the columns a source actually has."""
        if self.features is not None:
            return list(self.features)
        skip = {self.time_column, self.target, *self.exclude}
        if self.id_column:
            skip.add(self.id_column)
        return [c for c in available if c not in skip]


class RetrainerConfig(Strict):
    project: ProjectConfig = ProjectConfig()
    executor: ExecutorConfig = ExecutorConfig()
    models: list[ModelConfig] = Field(min_length=1)

    _root: Path = PrivateAttr(default_factory=Path.cwd)

    @field_validator("models")
    @classmethod
    def _unique_names(cls, models: list[ModelConfig]) -> list[ModelConfig]:
        names = [m.name for m in models]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"model names must be unique; repeated: {dupes}")
        return models

    @property
    def root(self) -> Path:
        """Directory relative paths in the config are resolved against."""
        return self._root

    def model(self, name: str) -> ModelConfig:
        from retrainer.exceptions import UsageError

        for model in self.models:
            if model.name == name:
                return model
        known = ", ".join(m.name for m in self.models)
        raise UsageError(f"no model named {name!r} in the configuration (known: {known})")

    def resolve_path(self, path: str) -> Path:
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else (self.root / candidate)


class Settings(BaseSettings):
    """Environment overrides. They win over retrainer.yaml."""

    model_config = SettingsConfigDict(env_prefix="RETRAINER_", extra="ignore")

    config: Path = Path(DEFAULT_CONFIG_FILE)
    state_store_url: str | None = None
    mlflow_tracking_uri: str | None = None


def resolve_url(url: str, root: Path) -> str:
    """Make a relative SQLite URL (``sqlite:///relative/path.db``) absolute against ``root``.

    >>> resolve_url("sqlite:///.retrainer/state.db", Path("/srv/proj"))
    'sqlite:////srv/proj/.retrainer/state.db'
    >>> resolve_url("postgresql+psycopg://db/x", Path("/srv"))
    'postgresql+psycopg://db/x'
    """
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return f"sqlite:///{(root / url[len(prefix):]).resolve()}"
    return url


def _field_path(loc: tuple[Any, ...]) -> str:
    """('models', 0, 'source', 'csv', 'path') -> 'models[0].source.path'."""
    path = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
        elif index and loc[index - 1] == "source" and part in ("csv", "parquet", "sql", "replay"):
            continue  # the discriminator tag pydantic adds for the tagged source union
        else:
            path += f".{part}" if path else str(part)
    return path


def _problems(error: ValidationError, text: str | None = None) -> list[ConfigProblem]:
    problems = []
    for item in error.errors():
        path = _field_path(item["loc"])
        message = item["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        if item["type"] == "string_type" and isinstance(item["input"], bool):
            written = _yaml_scalar(text, item["loc"])
            message += _boolean_hint(item["input"], written)
            if item["loc"][-1] == "[key]":  # a mapping's key: pydantic's loc counts it as 0/1
                path = f"{_field_path(item['loc'][:-2])}.{written or str(item['input']).lower()}"
        problems.append(ConfigProblem(path, message))
    return problems


def _boolean_hint(value: bool, written: str | None) -> str:
    """YAML 1.1 reads yes/no/on/off (any case) as booleans: a column named No becomes false.

    >>> _boolean_hint(False, "No"), _boolean_hint(True, None)
    (' (YAML read No as false: quote it, "No")', ' (YAML read it as a boolean: quote the name)')
    """
    if written is None:
        return " (YAML read it as a boolean: quote the name)"
    return f' (YAML read {written} as {str(value).lower()}: quote it, "{written}")'


def _yaml_scalar(text: str | None, loc: tuple[Any, ...]) -> str | None:
    """The text written at ``loc`` (a pydantic error location) in the YAML ``text``."""
    if text is None:
        return None
    try:
        node: Any = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    key: Any = None
    for part in loc:
        if part == "[key]":  # the error is in a mapping's key, not its value
            node = key
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and _same(key_node, part):
                    key, node = key_node, value_node
                    break
            # no such key: a part pydantic adds (a union member's tag), not in the file
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return None
            node = node.value[part]
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _same(key_node: yaml.ScalarNode, part: Any) -> bool:
    """Is ``part`` (a key as pydantic's loc has it: a boolean key as 0 or 1) the key this
    node was read as?"""
    read = yaml.safe_load(key_node.value) if key_node.tag != "tag:yaml.org,2002:str" else (
        key_node.value)
    return isinstance(read, str) == isinstance(part, str) and read == part


def parse_config(data: Any, source: str = "<config>", root: Path | None = None,
                 text: str | None = None) -> RetrainerConfig:
    """Validate an already-parsed mapping; ``text``, the YAML it was read from, lets an
    error quote what was written (a name YAML read as a boolean)."""
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigProblem("", "the file must hold a mapping at top level")])
    try:
        config = RetrainerConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(source, _problems(error, text)) from None
    config._root = (root or Path.cwd()).resolve()
    return config


def load_config(path: str | Path) -> RetrainerConfig:
    """Read and validate retrainer.yaml. Raises ConfigError (exit code 2) on any problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            str(path), [ConfigProblem("", "file not found (run 'retrainer init' to write one)")]
        )
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(error, "problem", None) or str(error)
        raise ConfigError(str(path), [ConfigProblem(where, f"not valid YAML: {reason}")]) from None
    return parse_config(data, str(path), path.parent, text)
