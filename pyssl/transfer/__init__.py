"""Downstream adaptation g_φ(h_θ*(x)): linear probe, kNN and fine-tuning, plus label sampling."""
from .linear_probe import LinearProbe
from .knn import KNN
from .finetune import FineTune
from .sampling import sample_labels
from .svm import SVMProbe
from .solvers import LogisticRegressionSolver, RidgeSolver, lbfgs

__all__ = ["LinearProbe", "KNN", "FineTune", "sample_labels", "LogisticRegressionSolver", "RidgeSolver", "lbfgs"]
__all__ += ["SVMProbe"]
