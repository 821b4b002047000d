"""The four synthetic datasets that ship inside NannyML, described once for both sides."""

from __future__ import annotations

from typing import Any

CLASSIFICATION = ["roc_auc", "f1", "precision", "recall", "specificity", "accuracy"]
REGRESSION = ["mae", "mse", "rmse", "mape"]

DATASETS: dict[str, dict[str, Any]] = {
    "binary": {
        "loader": "load_synthetic_binary_classification_dataset",
        "task": "binary",
        "target": "work_home_actual",
        "scores": "y_pred_proba",
        "classes": [0, 1],
        "metrics": CLASSIFICATION,
    },
    "car_loan": {
        "loader": "load_synthetic_car_loan_dataset",
        "task": "binary",
        "target": "repaid",
        "scores": "y_pred_proba",
        "classes": [0, 1],
        "metrics": CLASSIFICATION,
    },
    "multiclass": {
        "loader": "load_synthetic_multiclass_classification_dataset",
        "task": "multiclass",
        "target": "y_true",
        "scores": {
            "prepaid_card": "y_pred_proba_prepaid_card",
            "highstreet_card": "y_pred_proba_highstreet_card",
            "upmarket_card": "y_pred_proba_upmarket_card",
        },
        "classes": ["prepaid_card", "highstreet_card", "upmarket_card"],
        "metrics": CLASSIFICATION,
    },
    "car_price": {
        "loader": "load_synthetic_car_price_dataset",
        "task": "regression",
        "target": "y_true",
        "features": [
            "car_age",
            "km_driven",
            "price_new",
            "accident_count",
            "door_count",
            "fuel",
            "transmission",
        ],
        "metrics": REGRESSION,
    },
}
