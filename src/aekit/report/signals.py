"""Figures of signals: spectrograms of one signal as several methods give it back, and audio players
for the report."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from aekit.report.figures import display_name, plt, save_figure


def spectrogram_rows(signals: dict[str, np.ndarray], rate: int, path: str | os.PathLike, *,
                     title: str | None = None, nperseg: int = 256) -> Path:
    """One log-power spectrogram per signal, stacked top to bottom on one colour scale (e.g.
    noisy / PCA / Wiener / autoencoder / clean), saved as a PNG.

    Parameters
    ----------
    signals : dict of str to np.ndarray
        Label → a 1-D signal (or 1×T); all at `rate`.
    rate : int
        Samples per second (the time and frequency axes).
    path : str or os.PathLike
        The PNG file.
    title : str or None, default None
        Above the first row.
    nperseg : int, default 256
        Samples per STFT segment (`scipy.signal.spectrogram`, Hann window, half overlap).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> t = np.arange(8000) / 8000
    >>> x = np.sin(2 * np.pi * 440 * t)
    >>> out = spectrogram_rows({"noisy": x + 0.1 * np.cos(t * 9000), "clean": x}, 8000,
    ...                        Path(tempfile.mkdtemp()) / "spec.png")
    >>> out.read_bytes()[:4]
    b'\\x89PNG'
    """
    from scipy.signal import spectrogram

    if not signals:
        raise ValueError("no signals to draw")
    specs = {}
    for label, x in signals.items():
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        f, t, sxx = spectrogram(x, fs=rate, nperseg=min(nperseg, len(x)))
        specs[label] = (f, t, 10 * np.log10(sxx + 1e-12))
    top = max(s[2].max() for s in specs.values())
    fig, axes = plt.subplots(len(specs), 1, figsize=(8, 1.7 * len(specs)), sharex=True, squeeze=False)
    for ax, (label, (f, t, db)) in zip(axes[:, 0], specs.items()):
        mesh = ax.pcolormesh(t, f / 1000, db, shading="auto", cmap="magma", vmin=top - 80, vmax=top)
        ax.set_ylabel("kHz")
        ax.set_title(display_name(label), fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("seconds")
    if title:
        fig.suptitle(display_name(title), fontsize=10)
    fig.colorbar(mesh, ax=axes[:, 0].tolist(), label="dB", fraction=0.03)
    return save_figure(fig, path)



def audio_players(clips: dict[str, str | os.PathLike]) -> str:
    """HTML: one labelled audio player per WAV file, the sound embedded in the page (base64), so
    the report plays it without the files beside it.

    Parameters
    ----------
    clips : dict of str to path-like
        Label → a WAV file (keep them short: each is embedded whole).

    Returns
    -------
    str
        A block for `aekit.report.html.Section.blocks`.

    Examples
    --------
    >>> import tempfile
    >>> from aekit.data.audio import write_wav
    >>> wav = Path(tempfile.mkdtemp()) / "a.wav"
    >>> write_wav(wav, np.zeros(80), 8000, sample_format="int16")
    >>> block = audio_players({"clean <speech>": wav})
    >>> "data:audio/wav;base64," in block and "clean &lt;speech&gt;" in block
    True
    """
    import base64
    import html

    cells = []
    for label, path in clips.items():
        data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
        cells.append(f'<figure style="display:inline-block;margin:.3em 1em .3em 0"><figcaption>'
                     f'{html.escape(display_name(label))}</figcaption>'
                     f'<audio controls preload="none" src="data:audio/wav;base64,{data}"></audio></figure>')
    return f'<div class="audio">{"".join(cells)}</div>'


__all__ = ["audio_players", "spectrogram_rows"]
