"""DINO self-distillation loss with a centred teacher."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _core
from .._validation import check_array, check_scalar
from ._base import positive, temperature as temperature_
from .registry import multi_crop, register_loss


@register_loss("dino", inputs=multi_crop())
def dino(student, teacher, center, student_temp: float = 0.1, teacher_temp: float = 0.04):
    r"""DINO cross-entropy between teacher and student views, with the gradient in the student.

    .. math::

        q_{v} = \mathrm{softmax}\Big(\frac{t_v - C}{\tau_t}\Big), \quad
        L = \frac{1}{N\,P} \sum_{v < V_t} \sum_{u < V_s,\, u \ne v} \sum_n
            -q_{v,n} \cdot \log \mathrm{softmax}(s_{u,n}/\tau_s)

    with P = V_t V_s − V_t pairs (teacher view v is never paired with student view v).

    Shapes: student (Vs, N, K), teacher (Vt, N, K) with 1 <= Vt <= Vs and Vs >= 2 (teacher view v
    matches student view v: the global crops come first), center (K,).

    Source: Caron et al., "Emerging Properties in Self-Supervised Vision Transformers", ICCV 2021,
    sec. 3.1 (student/teacher softmax with temperatures, cross-entropy over pairs of different
    views, centring) and Algorithm 1; official ``main_dino.py`` ``DINOLoss``.

    Convention: official (lightly and solo-learn agree): mean over the pairs and the batch; the
    teacher is a constant. Defaults τ_s = 0.1, τ_t = 0.04 (the warm-up schedule is the caller's).
    The centre is not changed here; :class:`DINOLoss` updates it after the loss.

    Returns ``(loss, dstudent)``.

    ``student_temp``: student temperature τ_s > 0. ``teacher_temp``: teacher temperature τ_t > 0.
    """
    student = check_array(student, "student", ndim=3)
    teacher = check_array(teacher, "teacher", ndim=3, dtype=student.dtype)
    center = check_array(center, "center", ndim=1, dtype=student.dtype)
    if student.shape[0] < 2:
        raise ValueError(f"student needs at least 2 views, got shape {student.shape}")
    if teacher.shape[1:] != student.shape[1:] or not 1 <= teacher.shape[0] <= student.shape[0]:
        raise ValueError(f"teacher must have shape (Vt, {student.shape[1]}, {student.shape[2]}) with "
                         f"1 <= Vt <= {student.shape[0]}, got {teacher.shape}")
    return _core.losses.dino(student, teacher, center, temperature_(student_temp, "student_temp", student.dtype),
                             temperature_(teacher_temp, "teacher_temp", student.dtype))


class DINOLoss:
    """DINO loss holding the teacher centre C; see :func:`dino`.

    ``loss(student, teacher) -> (loss, dstudent)``; after computing the loss with the current C it
    updates C ← m·C + (1 − m)·mean over all teacher rows (official order; m = 0.9). C starts at 0.

    ``out_dim``: K, the width of the outputs (and of the centre). ``student_temp``: student
    temperature τ_s > 0. ``teacher_temp``: teacher temperature τ_t > 0. ``center_momentum``: EMA
    momentum m of the centre, in [0, 1]. ``dtype``: float32 or float64: the dtype of the parameters
    (and of the outputs).
    """

    def __init__(self, out_dim: int, student_temp: float = 0.1, teacher_temp: float = 0.04,
                 center_momentum: float = 0.9, dtype=np.float32):
        out_dim = int(check_scalar(out_dim, "out_dim", kind=numbers.Integral, low=1))
        self.student_temp = positive(student_temp, "student_temp")
        self.teacher_temp = positive(teacher_temp, "teacher_temp")
        self.center_momentum = float(check_scalar(center_momentum, "center_momentum", low=0.0, high=1.0))
        self.center = np.zeros(out_dim, dtype=dtype)

    def __call__(self, student, teacher):
        student = check_array(student, "student", ndim=3, dtype=self.center.dtype)
        teacher = check_array(teacher, "teacher", ndim=3, dtype=self.center.dtype)
        if student.shape[2] != self.center.shape[0]:
            raise ValueError(f"student has {student.shape[2]} outputs, DINOLoss(out_dim={self.center.shape[0]})")
        out = dino(student, teacher, self.center, self.student_temp, self.teacher_temp)
        _core.losses.dino_update_center(self.center, teacher, self.center_momentum)
        return out

    def __repr__(self):
        return (f"DINOLoss(out_dim={self.center.shape[0]}, student_temp={self.student_temp}, "
                f"teacher_temp={self.teacher_temp}, center_momentum={self.center_momentum})")
