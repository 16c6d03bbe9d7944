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
    # id_column: order_id       # with labels: targets that arrive later, joined by this id
    # labels: {source: {kind: parquet, path: data/labels.parquet}, label_column: outcome}
    training_window: 180d       # train on the latest 180 days; the most recent 20% is the holdout
    monitoring_window: 7d       # watch the latest 7 days
    min_rows: 10000
    readiness: {max_null_share: 20%, max_null_share_rise: 10%, max_label_null_share: 50%,
                max_staleness: 2d}

    monitors:
      drift:
        # method auto: below small_sample non-null values a p-value test decides (ks / chi2);
        # from there on the effect sizes that have a threshold (any one violated = drift)
        small_sample: 1000
        numeric:
          method: auto          # or one of / a list of: ks psi wasserstein js mean_shift variance_ratio null_share
          ks_alpha: 0.01
          psi: 0.25             # over `bins` reference quantile bins
          wasserstein: 0.1      # Wasserstein-1 distance / reference standard deviation
          js: null              # Jensen-Shannon distance (base 2), e.g. 0.1; null: reported only
          mean_shift: 25%       # |mean - ref mean| / max(|ref mean|, ref std)
          variance_ratio: [0.5, 2.0]
          bins: 10
          sketch_size: 500      # reference quantiles stored with each version (KS/Wasserstein)
        categorical: {method: auto, psi: 0.25, chi2_alpha: 0.01, js: null, unseen_share: null}
        null_share: 10%         # change of a column's missing-value share (both kinds)
        dataset_share: 30%      # the dataset drifts when drifted columns carry this much weight
        weighting: importance   # weight columns by the model's feature importance, or uniform
        calibration: {enabled: false, budget: 1%, windows: 1000}   # false-alarm budget per window
        severity: warning
        columns: {}             # e.g. {temperature: {psi: 0.4, severity: high}, id: {ignore: true}, store: {method: chi2}}
        target: true            # also judge the target's drift (label shift) on labelled rows; never in the dataset verdict
      performance:
        rules:                  # relative worsening against the version's validation score
          - {degradation: 15%, severity: high}
          - {degradation: 30%, severity: critical}

    triggers:
      auto:                     # the default policy: retrain once waiting has lost more than a retrain costs
        enabled: true
        cost_per_retrain: 1     # what one retrain costs, in your own units
        value_per_metric_point: 0.004   # the same units: one metric point (1% of the metric) for a day
        gain_rate: 0.5          # points a fresh model wins per day of production's age: about monthly
        learn_gain_rate: raise  # the gate's verdicts raise the rate when they measure more (learn | off)
        prior_days: 30          # with learn: gain_rate counts as this many days of evidence
        min_interval: 3d        # never sooner after the last retrain
        max_interval: 90d       # always by then
        drift_weight: 1.0       # while labels lag, a drifted dataset ages the model faster
        typical_window: 365d    # the loss clock compares each window with this span's mean loss
      # Opt-in, beside auto (their monitors feed auto's loss clock either way):
      # drift: {fire_on_severity: critical, on_target_drift: true}   # also retrain on the drift
      #                                     # monitor's dataset verdict (or min_drifted_share: 40%)
      #                                     # or on a drifted target alone (on_target_drift)
      # performance: {min_severity: high}   # also retrain when a performance rule reaches it
      # schedule: {cron: "0 3 * * 0"}      # or {every: 30d}
      debounce_seconds: 0       # a condition must hold this long before it fires
      cooldown: 7d              # no new training job within 7 days of the last
      budget: {max_retrains: 2, period: weekend}   # period: day | week | month | weekend | 30d

    training:
      trainer: lightgbm         # xgboost, or a scikit-learn estimator such as sklearn.linear_model:Ridge
      params: {}                # e.g. {num_leaves: 63, learning_rate: 0.03}
      holdout_fraction: 0.2     # the most recent 20% of the window: candidate vs production
      early_stopping_fraction: 0.1   # the slice just before the holdout (never the holdout)
      refit_on_holdout: false   # true: after the gate's scoring, refit on the whole window
      seed: 0
      cv: {folds: 3, gap: 24h}  # expanding-window time-series CV (tuning, cv_paired_t)
      tuning:
        n_trials: 20            # Optuna TPE trials per full fit (0: no tuning); resumed on retry
        timeout: 10m            # per attempt
        pruning: true           # median pruner fed by the booster's validation loss
        search_space: {}        # e.g. {num_leaves: {type: int, low: 15, high: 255, log: true},
                                #       reg_lambda: null}   (null drops a default parameter)
      warm_start:               # continue the production booster when features/types are unchanged
        enabled: true
        n_estimators: 300       # most rounds added per warm refresh (early stopping picks)
        max_chain: 3            # then a full (tuned) fit

    validation:
      metric: rmse              # regression: rmse mae r2 accuracy_within_20pct; classification: roc_auc accuracy f1 log_loss brier
      min_improvement: 2%       # or an absolute amount in metric units, e.g. 0.02
      # diebold_mariano | paired_t | wilcoxon (holdout row losses), bootstrap (metric difference,
      # moving blocks), delong (ROC AUC, binary), cv_paired_t (CV folds, Nadeau-Bengio) | none
      test: diebold_mariano
      # test_loss: log_loss     # classifiers: the row-loss tests compare log losses, not 0/1
      alpha: 0.05
      bootstrap: {resamples: 1000, block_length: null, seed: 0}   # null: n^(1/3) rows per block
      # scheduled refreshes only need to be "not worse" than production by the margin:
      non_inferiority: {margin: 1%, triggers: [schedule]}
      # a rejected candidate newer than production gets further looks as labels arrive: each
      # time the unseen rows have doubled, the gate runs again at alpha / max_looks
      challenger: {enabled: false, max_age: 28d, growth: 2.0, max_looks: 3}
      slices: []                # e.g. [{column: store, max_regression: 5%, min_rows: 200}]
      metric_ci: true           # bootstrap intervals of the holdout metrics, kept with the version
      gates: {max_rmse: 25, min_accuracy_within_20pct: 0.5}   # max_<metric> / min_<metric>, always applied
"""
