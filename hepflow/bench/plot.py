"""Writing a scaling result: `scaling.json`, `scaling.png` (matplotlib) and `scaling.html` (Bokeh).

Both plots have the same four panels: wall time (median, with the range of
the repetitions), speed-up and efficiency with the ideal line and the fitted
Amdahl (or Gustafson) curve, and the share of worker time per phase at each
worker count, which shows where the time goes as workers are added.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hepflow.observe.aggregate import BREAKDOWN_ORDER
from hepflow.observe.dashboard import PHASE_COLORS
from hepflow.util.jsondata import jsonable


def _title(result: Mapping[str, Any]) -> str:
    fit = result["fit"]
    s = fit.get("serial_fraction")
    serial = f", serial fraction {s:.3f} ({fit['model']})" if s is not None and s == s else ""
    return f"{result['mode']} scaling of {result['analysis']}{serial}"


def _shares(point: Mapping[str, Any]) -> dict[str, float]:
    total = sum(point["breakdown"].values()) or 1.0
    return {p: point["breakdown"].get(p, 0.0) / total for p in BREAKDOWN_ORDER}


def write_png(result: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = result["points"]
    fit = result["fit"]
    n = [p["workers"] for p in pts]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    ax = axes[0][0]
    med = [p["median_s"] for p in pts]
    ax.errorbar(n, med, yerr=[[m - p["min_s"] for m, p in zip(med, pts, strict=True)],
                              [p["max_s"] - m for m, p in zip(med, pts, strict=True)]],
                fmt="o-", capsize=4, label="median (min-max)")
    if result["mode"] == "strong":
        ax.plot(fit["workers"], [med[0] * n[0] / w for w in fit["workers"]], "--", color="gray",
                label="ideal")
    ax.set(xlabel="workers", ylabel="wall time [s]", title="Wall time")
    ax.legend()
    ax = axes[0][1]
    ax.plot(fit["workers"], fit["ideal"], "--", color="gray", label="ideal")
    ax.plot(fit["workers"], fit["amdahl"], "-", color="tab:orange",
            label=f"{fit['model'].capitalize()} fit")
    ax.plot(n, [p["speedup"] for p in pts], "o", color="tab:blue", label="measured (medians)")
    ax.plot(n, [p.get("speedup_best", p["speedup"]) for p in pts], "x", color="tab:green",
            label="fastest runs")
    ax.set(xlabel="workers", ylabel="speed-up", title="Speed-up")
    ax.legend()
    ax = axes[1][0]
    ax.plot(fit["workers"], fit["ideal_eff"], "--", color="gray", label="ideal")
    ax.plot(fit["workers"], fit["amdahl_eff"], "-", color="tab:orange", label="fit")
    ax.plot(n, [p["efficiency"] for p in pts], "o", color="tab:blue", label="medians")
    ax.plot(n, [p.get("efficiency_best", p["efficiency"]) for p in pts], "x", color="tab:green",
            label="fastest runs")
    ax.set(xlabel="workers", ylabel="efficiency", title="Efficiency", ylim=(0, 1.1))
    ax.legend(loc="lower left")
    ax = axes[1][1]
    bottom = [0.0] * len(pts)
    labels = [str(w) for w in n]
    for phase in BREAKDOWN_ORDER:
        share = [_shares(p)[phase] for p in pts]
        ax.bar(labels, share, bottom=bottom, color=PHASE_COLORS[phase], label=phase)
        bottom = [b + s for b, s in zip(bottom, share, strict=True)]
    ax.set(xlabel="workers", ylabel="share of worker time", title="Where the time goes",
           ylim=(0, 1))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for ax in (axes[0][0], axes[0][1], axes[1][0]):
        ax.set_xticks(n)
    fig.suptitle(_title(result))
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_html(result: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    from bokeh.embed import file_html
    from bokeh.layouts import column, gridplot
    from bokeh.models import ColumnDataSource, FactorRange, Range1d
    from bokeh.models.annotations import Whisker
    from bokeh.models.widgets.markups import Div
    from bokeh.plotting import figure
    from bokeh.resources import INLINE

    pts = result["points"]
    fit = result["fit"]
    src = ColumnDataSource({
        "workers": [p["workers"] for p in pts], "median": [p["median_s"] for p in pts],
        "lo": [p["min_s"] for p in pts], "hi": [p["max_s"] for p in pts],
        "speedup": [p["speedup"] for p in pts], "efficiency": [p["efficiency"] for p in pts]})
    curves = ColumnDataSource({k: fit[k] for k in ("workers", "ideal", "amdahl", "ideal_eff",
                                                   "amdahl_eff")})
    tools = "pan,wheel_zoom,box_zoom,reset,save,hover"
    wall = figure(title="Wall time (median, min-max)", width=450, height=320, tools=tools)
    wall.line("workers", "median", source=src)
    wall.scatter("workers", "median", source=src, size=8)
    wall.add_layout(Whisker(source=src, base="workers", upper="hi", lower="lo"))
    speed = figure(title="Speed-up", width=450, height=320, tools=tools)
    speed.line("workers", "ideal", source=curves, color="gray", line_dash="dashed",
               legend_label="ideal")
    speed.line("workers", "amdahl", source=curves, color="#ff7f0e",
               legend_label=f"{fit['model']} fit")
    speed.scatter("workers", "speedup", source=src, size=9, legend_label="measured")
    speed.legend.location = "top_left"
    eff = figure(title="Efficiency", width=450, height=320, tools=tools,
                 y_range=Range1d(start=0, end=1.1))
    eff.line("workers", "ideal_eff", source=curves, color="gray", line_dash="dashed")
    eff.line("workers", "amdahl_eff", source=curves, color="#ff7f0e")
    eff.scatter("workers", "efficiency", source=src, size=9)
    labels = [str(p["workers"]) for p in pts]
    shares = {phase: [_shares(p)[phase] for p in pts] for phase in BREAKDOWN_ORDER}
    brk = figure(title="Where the time goes (share of worker time)",
                 x_range=FactorRange(factors=labels), width=450, height=320,
                 tools="save,hover", tooltips="$name: @$name{0.0%}")
    brk.vbar_stack(list(BREAKDOWN_ORDER), x="workers", width=0.6,
                   color=[PHASE_COLORS[p] for p in BREAKDOWN_ORDER],
                   source=ColumnDataSource({"workers": labels, **shares}),
                   legend_label=list(BREAKDOWN_ORDER))
    brk.legend.label_text_font_size = "7pt"
    for f in (wall, speed, eff, brk):
        f.xaxis.axis_label = "workers"
    rows = "".join(
        f"<tr><td>{p['workers']}</td><td>{p['entries']:,}</td><td>{p['median_s']:.3f}</td>"
        f"<td>{p['min_s']:.3f}-{p['max_s']:.3f}</td><td>{p['events_per_s']:,.0f}</td>"
        f"<td>{p['speedup']:.2f}</td><td>{100 * p['efficiency']:.0f}%</td>"
        f"<td>{p.get('speedup_best', 0.0):.2f} ({100 * p.get('efficiency_best', 0.0):.0f}%)"
        "</td></tr>"
        for p in pts)
    table = ("<table border=1 cellpadding=3 style='border-collapse:collapse'><tr>"
             "<th>workers</th><th>entries</th><th>median [s]</th><th>range [s]</th>"
             "<th>events/s</th><th>speed-up</th><th>efficiency</th>"
             "<th>fastest runs: speed-up (efficiency)</th></tr>" + rows + "</table>")
    head = Div(text=f"<h2>{html.escape(_title(result))}</h2>{table}"
                    f"<p>scheduler overhead {1e3 * result['task_overhead_s']:.2f} ms per task; "
                    f"{result['repeat']} timed runs per point after {result['warmup']} warm-up"
                    "</p>", width=900)
    layout = column(head, gridplot([[wall, speed], [eff, brk]]))
    out = Path(path)
    out.write_text(str(file_html(layout, INLINE, _title(result))), encoding="utf-8")
    return out


def write_outputs(result: Mapping[str, Any], outdir: str | os.PathLike[str],
                  ) -> dict[str, Path]:
    """`scaling.json`, `scaling.png` and `scaling.html` in `outdir`."""
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "scaling.json", "png": out / "scaling.png",
             "html": out / "scaling.html"}
    tmp = paths["json"].with_suffix(".json.tmp")
    tmp.write_text(json.dumps(jsonable(result), indent=1, allow_nan=False))
    tmp.replace(paths["json"])
    write_png(result, paths["png"])
    write_html(result, paths["html"])
    return paths


__all__ = ["write_html", "write_outputs", "write_png"]
