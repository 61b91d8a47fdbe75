"""``pyssl.log``: print a line without garbling a running progress bar."""
from __future__ import annotations


def log(msg, file=None) -> None:
    """Write ``msg`` on its own line through ``tqdm.write``: a progress bar drawn by
    ``pyssl.pretrain`` is cleared first and redrawn below the line, so callbacks and training
    scripts can report while the bar runs (a plain ``print`` lands in the middle of the bar).

    Parameters
    ----------
    msg : anything printable (converted with ``str``).
    file : a text stream; default ``sys.stdout``.
    """
    from tqdm.auto import tqdm

    tqdm.write(str(msg), file=file)
