"""The commented example ``retrainer init`` writes. A test checks that it validates."""

EXAMPLE_CONFIG = """\
# retrainer.yaml: one file for the whole loop (validate it with `retrainer validate-config`).
# Durations: 90s, 15m, 12h, 7d, 2w. Shares: 0.2 or 20%. Relative paths are relative to this file.

project:
  # where retrainer keeps jobs, decisions, readings and promotions (PostgreSQL for teams:
  # postgresql+psycopg://user@host/db); RETRAINER_STATE_STORE_URL overrides it
  state_store_url: sqlite:///.retrainer/state.db
  # MLflow tracking + model registry (any MLflow server works); RETRAINER_MLFLOW_TRACKING_URI
  mlflow_tracking_uri: sqlite:///.retrainer/mlflow.db
  mlflow_artifact_location: .retrainer/mlartifacts
  # events: trigger_fired, data_not_ready, job_failed, candidate_rejected, promoted, rolled_back
  notifications: []
  #  - kind: webhook
  #    url: https://hooks.example.com/retrainer
  #    events: [promoted, rolled_back, job_failed, data_not_ready]

executor:
  max_concurrency: 1          # training jobs at once; each gets cores / max_concurrency threads
  timeout_seconds: 3600
  heartbeat_seconds: 5
  stale_after_seconds: 60     # a running job silent this long is failed and retried
  retry: {max_retries: 2, base_delay_seconds: 30, backoff: 2.0, jitter: 0.2}

models:
  - name: demand
    source: {kind: csv, path: data/demand.csv}
    # source: {kind: parquet, path: data/demand.parquet}
    # source: {kind: sql, url: "postgresql+psycopg://...", query: "SELECT * FROM demand WHERE ts >= :start AND ts < :end"}
    time_column: timestamp
    target: demand
    task: regression            # or classification
    # features: [temperature, hour, weekday, store]   # default: all but target, time, exclude
    exclude: []
    categorical: []
    training_window: 180d       # train on the latest 180 days; the most recent 20% is the holdout
    monitoring_window: 7d       # watch the latest 7 days
    min_rows: 10000
    readiness: {max_null_share: 20%, max_label_null_share: 50%, max_staleness: 2d}

    monitors:
      drift:
        numeric: {psi: 0.25, mean_shift: 25%, variance_ratio: [0.5, 2.0]}
        categorical: {method: psi, psi: 0.25}     # or {method: chi2, chi2_alpha: 0.01}
        severity: warning
        columns: {}             # e.g. {temperature: {psi: 0.4, severity: high}, id: {ignore: true}}
      performance:
        rules:                  # relative worsening against the version's validation score
          - {degradation: 15%, severity: high}
          - {degradation: 30%, severity: critical}

    triggers:
      drift: {min_drifted_share: 30%, fire_on_severity: critical}
      performance: {min_severity: high}
      # schedule: {cron: "0 3 * * 0"}      # or {every: 30d}
      debounce_seconds: 0       # a condition must hold this long before it fires
      cooldown: 7d              # no new training job within 7 days of the last
      budget: {max_retrains: 2, period: weekend}   # period: day | week | month | weekend | 30d

    training:
      trainer: lightgbm         # xgboost, or a scikit-learn estimator such as sklearn.linear_model:Ridge
      params: {}                # e.g. {num_leaves: 63, learning_rate: 0.03}

    validation:
      metric: rmse              # regression: rmse mae r2; classification: roc_auc accuracy f1 log_loss brier
      min_improvement: 2%       # or an absolute amount in metric units, e.g. 0.02
      test: diebold_mariano     # paired test on per-row losses: diebold_mariano | paired_t | wilcoxon | none
      alpha: 0.05
      gates: {max_rmse: 25}     # absolute limits every candidate must meet: max_<metric> / min_<metric>
"""
