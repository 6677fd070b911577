"""The feature-map explorer: pick an image, a layer and a channel → that channel's feature map
and the images of a pool that excite it most.

Three pieces, as every explorer here: :class:`ActivationBank` runs the model ONCE over a pool
of images and keeps every chosen layer's maps (a slider move only indexes arrays);
:func:`inside_state` is the pure function that says what to show; :func:`inside_html` draws it
as HTML with small inline PNGs (no matplotlib figure, so an update takes a few ms);
:func:`inside_explorer` is the ipywidgets shell and :func:`inside_gallery` the static version
for the HTML book. See: chapter "Seeing inside a CNN".
"""

from __future__ import annotations

import base64
import html as _html
import io
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from convlib._validate import as_array, nonnegative_int, one_of, positive_int
from convlib.widgets.player import playable

__all__ = ["ActivationBank", "inside_state", "inside_html", "inside_explorer", "inside_gallery",
           "png_data_uri", "occlusion_table", "occlusion_html", "occlusion_explorer"]


@dataclass
class ActivationBank:
    """Images ``(N, C, H, W)`` float32, their labels, and ``maps[layer]`` ``(N, C', h, w)``:
    every chosen layer's output for every image, computed once; ``peak[layer]`` ``(N, C')`` is
    each map's maximum (how strongly an image excites a channel)."""

    images: np.ndarray
    labels: np.ndarray
    maps: dict
    peak: dict

    @property
    def layers(self) -> list[str]:
        return list(self.maps)

    @classmethod
    def build(cls, model, images: np.ndarray, labels: np.ndarray,
              layers: Sequence[str] = ("relu1", "relu2", "relu3")) -> "ActivationBank":
        """Run ``model`` (an ``nn.Sequential``) over ``images`` once and keep ``layers``."""
        import torch

        x = np.ascontiguousarray(as_array(images, "images", 4), dtype=np.float32)
        names = [n for n, _ in model.named_children()]
        for layer in layers:
            one_of(layer, "layers", names)
        maps = {}
        model.eval()
        with torch.inference_mode():
            t = torch.from_numpy(x)
            for name, mod in model.named_children():
                t = mod(t)
                if name in layers:
                    maps[name] = t.numpy().copy()
                if len(maps) == len(layers):
                    break
        maps = {k: maps[k] for k in layers}
        peak = {k: v.max(axis=(2, 3)) for k, v in maps.items()}
        return cls(x, np.asarray(labels), maps, peak)


def inside_state(bank: ActivationBank, image: int, layer: str, channel: int,
                 top: int = 6) -> dict:
    """What the explorer shows for ``(image, layer, channel)``.

    Returns ``fmap`` (h, w) — the channel's map for that image; ``where`` (row, col) of its
    maximum and ``peak``; ``top`` — indices of the ``top`` pool images with the largest peak
    (strongest first), ``top_peaks`` and, for each, ``top_where``; ``n_channels`` of the layer;
    ``rank`` of the chosen image among the pool (0 = strongest).
    """
    one_of(layer, "layer", bank.layers)
    image = nonnegative_int(image, "image")
    channel = nonnegative_int(channel, "channel")
    top = positive_int(top, "top")
    maps = bank.maps[layer]
    if image >= maps.shape[0]:
        raise ValueError(f"image must be < {maps.shape[0]} (images in the pool), got {image}")
    if channel >= maps.shape[1]:
        raise ValueError(f"channel must be < {maps.shape[1]} (channels of {layer!r}), got {channel}")
    peaks = bank.peak[layer][:, channel]
    order = np.argsort(-peaks, kind="stable")
    best = order[:top]
    flat = maps[best, channel].reshape(len(best), -1).argmax(1)
    w = maps.shape[3]
    fmap = maps[image, channel]
    return {
        "fmap": fmap,
        "where": tuple(int(v) for v in np.unravel_index(int(fmap.argmax()), fmap.shape)),
        "peak": float(peaks[image]),
        "top": best,
        "top_peaks": peaks[best],
        "top_where": np.stack([flat // w, flat % w], axis=1),
        "n_channels": int(maps.shape[1]),
        "rank": int(np.flatnonzero(order == image)[0]),
    }


def png_data_uri(array: np.ndarray, cmap: str = "magma", vmin=None, vmax=None) -> str:
    """A ``data:image/png`` URI of ``array`` — (h, w) through ``cmap``, or (h, w, 3) RGB."""
    import matplotlib.image as mpimg  # only when a picture is made: `import convlib` stays light

    buf = io.BytesIO()
    a = np.asarray(array, dtype=np.float64)
    if a.ndim == 3:
        mpimg.imsave(buf, np.clip(a, 0, 1), format="png")
    else:
        mpimg.imsave(buf, a, cmap=cmap, vmin=vmin, vmax=vmax, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _img(uri: str, px: int, caption: str, role: str) -> str:
    return ('<div style="display:inline-block;margin:0 6px 4px 0;text-align:center;'
            f'font:11px sans-serif" data-role="{role}"><img src="{uri}" width="{px}" height="{px}" '
            f'style="image-rendering:pixelated;border:1px solid #999"><br>{_html.escape(caption)}</div>')


def inside_html(bank: ActivationBank, state: dict, image: int, layer: str, channel: int,
                class_names: Sequence[str] | None = None) -> str:
    """The state as HTML: input, feature map (upscaled, pixelated), and the top-activating
    pool images with a box on the input region under each one's strongest unit (its
    receptive-field centre, roughly: the map position scaled to the image)."""
    def name(i):
        lab = int(bank.labels[i])
        return class_names[lab] if class_names is not None else str(lab)

    rgb = lambda i: bank.images[i].transpose(1, 2, 0)  # noqa: E731
    h = bank.images.shape[2]
    fm = state["fmap"]

    def boxed(i, where):
        img = np.array(rgb(i), dtype=np.float64)
        s = h / fm.shape[0]
        r0, c0 = int(where[0] * s), int(where[1] * s)
        r1, c1 = min(h - 1, int((where[0] + 1) * s)), min(h - 1, int((where[1] + 1) * s))
        for rr, cc in ((slice(r0, r1 + 1), c0), (slice(r0, r1 + 1), c1), (r0, slice(c0, c1 + 1)),
                       (r1, slice(c0, c1 + 1))):
            img[rr, cc] = (1.0, 0.9, 0.0)
        return img

    vmax = float(bank.maps[layer][:, channel].max()) or 1.0
    left = (_img(png_data_uri(rgb(image)), 128, f"image {image} ({name(image)})", "input")
            + _img(png_data_uri(fm, vmin=0, vmax=vmax), 128,
                   f"{layer}[{channel}] {fm.shape[0]}×{fm.shape[1]}, max {state['peak']:.2f}",
                   "fmap"))
    tops = "".join(_img(png_data_uri(boxed(i, wh)), 72, f"#{k + 1} {name(i)} {p:.2f}", "top")
                   for k, (i, p, wh) in enumerate(zip(state["top"], state["top_peaks"],
                                                        state["top_where"])))
    head = (f'<div style="font:13px sans-serif;margin:4px 0">Layer <b>{_html.escape(layer)}</b>, '
            f'channel <b>{channel}</b> of {state["n_channels"]}: this image ranks '
            f'{state["rank"] + 1} of {len(bank.images)} in the pool.</div>')
    return (f'<div data-role="inside">{head}<div>{left}</div>'
            f'<div style="font:12px sans-serif;margin:4px 0">Strongest in the pool '
            f'(yellow box: where the channel peaks)</div><div>{tops}</div></div>')


@playable
def inside_explorer(bank: ActivationBank, class_names: Sequence[str] | None = None,
                    n_choices: int = 24, top: int = 6):
    """ipywidgets: image, layer and channel → :func:`inside_html` (an update only indexes)."""
    import ipywidgets as w

    image = w.Dropdown(options=[(f"{i}: {class_names[int(bank.labels[i])] if class_names else bank.labels[i]}", i)
                                for i in range(min(n_choices, len(bank.images)))],
                       value=0, description="image")
    layer = w.Dropdown(options=bank.layers, value=bank.layers[0], description="layer")
    channel = w.IntSlider(0, 0, bank.maps[bank.layers[0]].shape[1] - 1, description="channel",
                          continuous_update=True)
    out = w.HTML()

    def refresh(_change=None):
        channel.max = bank.maps[layer.value].shape[1] - 1
        st = inside_state(bank, image.value, layer.value, channel.value, top)
        out.value = inside_html(bank, st, image.value, layer.value, channel.value, class_names)

    for ctl in (image, layer, channel):
        ctl.observe(refresh, names="value")
    refresh()
    return w.VBox([w.HBox([image, layer, channel]), out])


def inside_gallery(bank: ActivationBank, settings: Sequence[tuple[int, str, int]],
                   class_names: Sequence[str] | None = None, top: int = 6) -> str:
    """Static HTML of a few ``(image, layer, channel)`` states, for a page with no kernel."""
    return "<hr>".join(inside_html(bank, inside_state(bank, i, l, c, top), i, l, c, class_names)
                       for i, l, c in settings)


def occlusion_table(model, image: np.ndarray, target: int, patches: Sequence[int] = (4, 8, 12),
                    strides: Sequence[int] = (1, 2, 4), fill: float | None = None) -> dict:
    """Occlusion maps (:func:`convlib.interpret.occlusion_sensitivity`) for every
    ``(patch, stride)`` pair, computed once: ``{(patch, stride): (Ho, Wo)}``."""
    from convlib.interpret import occlusion_sensitivity

    return {(int(p), int(s)): occlusion_sensitivity(model, image, target, int(p), int(s), fill)
            for p in patches for s in strides}


def occlusion_html(image: np.ndarray, heat: np.ndarray, patch: int, stride: int,
                   vmax: float = 1.0) -> str:
    """The image and its occlusion map (red: the class probability drops when that place is
    covered; blue: it rises), both 128 px wide, and what the map's size is."""
    from convlib.viz.inside import to_rgb, upsample

    big = upsample(heat, (image.shape[1], image.shape[2]))
    return (f'<div data-role="occlusion">{_img(png_data_uri(to_rgb(image)), 128, "input", "input")}'
            + _img(png_data_uri(big, cmap="RdBu_r", vmin=-vmax, vmax=vmax), 128,
                   f"patch {patch}, stride {stride}: {heat.shape[0]}×{heat.shape[1]} positions",
                   "heat")
            + f'<div style="font:12px sans-serif">largest drop {heat.max():.3f}; '
              f'{int((heat > 0.1).sum())} positions drop P(class) by more than 0.1</div></div>')


@playable
def occlusion_explorer(table: dict, image: np.ndarray):
    """ipywidgets: patch and stride sliders over a precomputed :func:`occlusion_table`."""
    import ipywidgets as w

    patches = sorted({p for p, _ in table})
    strides = sorted({s for _, s in table})
    vmax = max(float(np.abs(h).max()) for h in table.values()) or 1.0
    patch = w.SelectionSlider(options=patches, value=patches[len(patches) // 2], description="patch")
    stride = w.SelectionSlider(options=strides, value=strides[0], description="stride")
    out = w.HTML()

    def refresh(_change=None):
        out.value = occlusion_html(image, table[patch.value, stride.value], patch.value,
                                   stride.value, vmax)

    patch.observe(refresh, names="value")
    stride.observe(refresh, names="value")
    refresh()
    return w.VBox([w.HBox([patch, stride]), out])
