"""An interactive latent map for the HTML report: the codes as a zoomable, hoverable scatter that
shows the input image under the pointer.

Everything is inline, so the page needs no network: the points and labels as JSON in a
``<script type="application/json">`` element, the images as one sprite-sheet PNG (a data URI),
and a small self-written canvas script (wheel or buttons: zoom; drag: pan; double-click: reset;
hover: the image, its label and its code). A code of more than two values is drawn by its first
two principal components, and the map says so. At most `MAX_POINTS` points are drawn (a seeded
random sample, also said). The static PNG scatter stays in the report for print; CSS hides the
interactive map there.
"""
from __future__ import annotations

import base64
import html
import io
import json

import numpy as np

from aekit.report.figures import as_image_array, display_name, to_2d

MAX_POINTS = 2000  # points (with their images) in one map; more are sampled
TILE_LIMIT = 64  # px: larger images are shrunk in the sprite sheet to keep the page small

_SCRIPT = r"""
(function(){
if(!window.aekitLatentMap){window.aekitLatentMap=function(id){
var root=document.getElementById(id),data=JSON.parse(document.getElementById(id+'-data').textContent);
var cv=root.querySelector('canvas.map'),tip=root.querySelector('.tip'),tipc=tip.querySelector('canvas'),tipt=tip.querySelector('span');
var C=['#1f77b4','#ff7f0e','#2ca02c','#d62728','#9467bd','#8c564b','#e377c2','#7f7f7f','#bcbd22','#17becf'];
var P=data.points,n=P.length,x0=Infinity,x1=-Infinity,y0=Infinity,y1=-Infinity,i;
for(i=0;i<n;i++){x0=Math.min(x0,P[i][0]);x1=Math.max(x1,P[i][0]);y0=Math.min(y0,P[i][1]);y1=Math.max(y1,P[i][1]);}
if(!(x1>x0)){x0-=1;x1+=1;} if(!(y1>y0)){y0-=1;y1+=1;}
var sheet=null;if(data.sprite){sheet=new Image();sheet.onload=function(){draw();};sheet.src=data.sprite.src;}
var W=0,H=0,dpr=1,view={s:1,tx:0,ty:0},hover=-1,drag=null,M=24;
function fit(){return Math.min((W-2*M)/(x1-x0),(H-2*M)/(y1-y0));}
function pos(p){var s=fit(),bx=M+(W-2*M-(x1-x0)*s)/2+(p[0]-x0)*s,by=H-(M+(H-2*M-(y1-y0)*s)/2+(p[1]-y0)*s);
return [bx*view.s+view.tx,by*view.s+view.ty];}
function size(){dpr=window.devicePixelRatio||1;W=cv.clientWidth;H=cv.clientHeight;cv.width=Math.round(W*dpr);cv.height=Math.round(H*dpr);}
function colour(p){return p[2]>=0?C[p[2]%10]:C[0];}
function draw(){var g=cv.getContext('2d');g.setTransform(dpr,0,0,dpr,0,0);g.clearRect(0,0,W,H);
var r=Math.max(1.5,Math.min(4,4*Math.sqrt(300/n)))*Math.min(3,Math.sqrt(view.s));g.globalAlpha=n>1000?0.6:0.8;
for(var j=0;j<n;j++){var q=pos(P[j]);if(q[0]<-r||q[1]<-r||q[0]>W+r||q[1]>H+r)continue;
g.fillStyle=colour(P[j]);g.beginPath();g.arc(q[0],q[1],r,0,6.2832);g.fill();}
g.globalAlpha=1;if(hover>=0){var h=pos(P[hover]);g.strokeStyle='#000';g.lineWidth=2;g.beginPath();g.arc(h[0],h[1],r+3,0,6.2832);g.stroke();}}
function nearest(mx,my){var best=-1,bd=144;for(var j=0;j<n;j++){var q=pos(P[j]),d=(q[0]-mx)*(q[0]-mx)+(q[1]-my)*(q[1]-my);if(d<bd){bd=d;best=j;}}return best;}
function show(j,mx,my){hover=j;draw();if(j<0){tip.style.display='none';return;}var p=P[j];
var label=p[2]>=0?data.classes[p[2]]:'';tipt.textContent=(label!==''?'label '+label+' · ':'')+'sample '+p[4]+' · ('+p[0]+', '+p[1]+')';
if(sheet&&p[3]>=0&&sheet.complete){var s=data.sprite,k=Math.max(1,Math.floor(96/Math.max(s.w,s.h)));tipc.width=s.w*k;tipc.height=s.h*k;tipc.style.display='block';
var g=tipc.getContext('2d');g.imageSmoothingEnabled=false;g.drawImage(sheet,(p[3]%s.cols)*s.w,Math.floor(p[3]/s.cols)*s.h,s.w,s.h,0,0,s.w*k,s.h*k);}else{tipc.style.display='none';}
tip.style.display='block';var left=mx+14,top=my+14;if(left+tip.offsetWidth>W)left=mx-14-tip.offsetWidth;if(top+tip.offsetHeight>H)top=my-14-tip.offsetHeight;
tip.style.left=Math.max(0,left)+'px';tip.style.top=Math.max(0,top)+'px';}
function zoom(f,mx,my){view.tx=mx-(mx-view.tx)*f;view.ty=my-(my-view.ty)*f;view.s*=f;draw();}
function xy(e){var b=cv.getBoundingClientRect();return [e.clientX-b.left,e.clientY-b.top];}
cv.addEventListener('wheel',function(e){e.preventDefault();var m=xy(e);zoom(Math.exp(-e.deltaY*0.0015),m[0],m[1]);},{passive:false});
cv.addEventListener('mousedown',function(e){var m=xy(e);drag=[m[0],m[1],view.tx,view.ty];});
window.addEventListener('mouseup',function(){drag=null;});
cv.addEventListener('mousemove',function(e){var m=xy(e);if(drag){view.tx=drag[2]+m[0]-drag[0];view.ty=drag[3]+m[1]-drag[1];draw();return;}show(nearest(m[0],m[1]),m[0],m[1]);});
cv.addEventListener('mouseleave',function(){show(-1,0,0);});
cv.addEventListener('dblclick',function(){view={s:1,tx:0,ty:0};draw();});
root.querySelectorAll('button').forEach(function(b){b.addEventListener('click',function(){var a=b.getAttribute('data-act');
if(a==='reset'){view={s:1,tx:0,ty:0};draw();}else{zoom(a==='in'?1.5:1/1.5,W/2,H/2);}});});
window.addEventListener('resize',function(){size();draw();});
root.aekitNearest=nearest;root.aekitShow=show;root.aekitPos=function(j){return pos(P[j]);};
size();draw();root.setAttribute('data-ready',String(n));};}
})();
"""

_CSS = (".aekit-map{position:relative;margin:1em 0}.aekit-map canvas.map{width:100%;height:560px;border:1px solid #ccc;"
        "cursor:crosshair;display:block}.aekit-map .tip{position:absolute;display:none;background:#fff;border:1px solid "
        "#888;padding:4px;font-size:.8em;pointer-events:none;box-shadow:0 1px 4px rgba(0,0,0,.3)}.aekit-map .tip canvas"
        "{image-rendering:pixelated;margin-bottom:2px}.aekit-map .keys span{margin-right:1em;white-space:nowrap}"
        ".aekit-map button{margin-right:.3em}")

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def sprite_sheet(images: np.ndarray, value_range: tuple[float, float] = (0.0, 1.0)) -> tuple[bytes, int, int, int]:
    """The images tiled into one PNG, row by row: (PNG bytes, tiles per row, tile height, tile width).

    Images larger than `TILE_LIMIT` pixels on a side are shrunk (nearest neighbour, by a whole
    factor) so that a map of 2,000 images stays a few hundred kilobytes.

    Parameters
    ----------
    images : ndarray
        N×H×W (grey) or N×H×W×3 images.
    value_range : tuple of float, default (0.0, 1.0)
        The values drawn as black and white.

    Returns
    -------
    tuple of (bytes, int, int, int)

    Examples
    --------
    >>> png, cols, h, w = sprite_sheet(np.random.default_rng(0).random((10, 8, 8)))
    >>> png[:4], cols, h, w
    (b'\\x89PNG', 4, 8, 8)
    """
    from PIL import Image

    imgs = np.asarray(images, dtype=np.float64)
    step = max(1, -(-max(imgs.shape[1:3]) // TILE_LIMIT))
    imgs = imgs[:, ::step, ::step]
    lo, hi = (float(v) for v in value_range)
    u8 = np.clip(np.round((np.nan_to_num(imgs, nan=lo) - lo) * (255.0 / (hi - lo) if hi > lo else 0.0)), 0, 255
                 ).astype(np.uint8)
    n, h, w = u8.shape[:3]
    cols = max(1, int(np.ceil(np.sqrt(n))))
    rows = -(-n // cols)
    sheet = np.zeros((rows * h, cols * w, *u8.shape[3:]), np.uint8)
    for k in range(n):  # at most MAX_POINTS small tiles
        r, c = divmod(k, cols)
        sheet[r * h:(r + 1) * h, c * w:(c + 1) * w] = u8[k]
    buf = io.BytesIO()
    Image.fromarray(sheet).save(buf, format="PNG", optimize=True)
    return buf.getvalue(), cols, h, w


def _short(v: float) -> float:
    return float(f"{v:.4g}")


def latent_map_data(codes: np.ndarray, labels: np.ndarray | None = None, classes: list | None = None,
                    images: np.ndarray | None = None, image_shape: tuple[int, ...] | None = None,
                    value_range: tuple[float, float] = (0.0, 1.0), max_points: int = MAX_POINTS,
                    seed: int = 0) -> dict:
    """What the map's script draws, as a JSON-ready dict.

    Parameters
    ----------
    codes : ndarray of shape (N, L)
        The codes; L > 2 is drawn by its first two principal components.
    labels : ndarray of shape (N,) or None, default None
        Integer labels (colours); None for one colour.
    classes : list or None, default None
        Names of the labels.
    images : ndarray or None, default None
        The N inputs (N×C×H×W, or flat rows of `image_shape` or of a square side), shown on hover;
        non-image data show no picture.
    image_shape : tuple of int or None, default None
        (C, H, W) of flat rows.
    value_range : tuple of float, default (0.0, 1.0)
    max_points : int, default 2000
        More points than this are replaced by a seeded random sample of this many.
    seed : int, default 0

    Returns
    -------
    dict
        "points": [x, y, label index or -1, tile index or -1, sample index] per point;
        "classes", "axes" (what x and y are), "n_total", "sprite" (src, cols, h, w) or None.

    Examples
    --------
    >>> d = latent_map_data(np.random.default_rng(0).random((50, 3)), np.arange(50) % 2, max_points=20)
    >>> len(d["points"]), d["n_total"], d["axes"], d["classes"], d["sprite"]
    (20, 50, 'first 2 PCs of the 3-D code', ['0', '1'], None)
    """
    codes = np.asarray(codes, dtype=np.float64)
    n = len(codes)
    idx = np.arange(n)
    if n > max_points:
        idx = np.sort(np.random.default_rng(seed).choice(n, int(max_points), replace=False))
    xy, axes = to_2d(codes[idx])
    label_index = np.full(len(idx), -1)
    names: list[str] = []
    if labels is not None:
        values = np.unique(np.asarray(labels))
        lookup = {v: i for i, v in enumerate(values.tolist())}
        label_index = np.array([lookup[v] for v in np.asarray(labels)[idx].tolist()])
        names = [display_name(classes[int(v)]) if classes is not None and isinstance(v, (int, np.integer))
                 and 0 <= int(v) < len(classes) else display_name(v) for v in values.tolist()]
    sprite = None
    tiles = as_image_array(np.asarray(images)[idx], image_shape) if images is not None else None
    if tiles is not None:
        png, cols, h, w = sprite_sheet(tiles, value_range)
        sprite = {"src": "data:image/png;base64," + base64.b64encode(png).decode("ascii"), "cols": cols, "h": h, "w": w}
    points = [[_short(x), _short(y), int(lab), k if sprite else -1, int(i)]
              for k, (x, y, lab, i) in enumerate(zip(xy[:, 0], xy[:, 1], label_index, idx))]
    return {"points": points, "classes": names, "axes": axes, "n_total": int(n), "sprite": sprite}


def script_json(obj) -> str:
    """JSON that is safe inside a ``<script>`` element (no '<', '>' or '&' characters).

    Examples
    --------
    >>> script_json({"name": "</script>"})
    '{"name": "\\\\u003c/script\\\\u003e"}'
    """
    return json.dumps(obj, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def latent_map_html(element_id: str, codes: np.ndarray, *, labels: np.ndarray | None = None,
                    classes: list | None = None, images: np.ndarray | None = None,
                    image_shape: tuple[int, ...] | None = None, value_range: tuple[float, float] = (0.0, 1.0),
                    title: str = "Interactive latent map", max_points: int = MAX_POINTS, seed: int = 0) -> str:
    """The interactive map as one HTML block for `aekit.report.html.Section.blocks`.

    Parameters
    ----------
    element_id : str
        A page-unique id for the block (letters, digits, '-' and '_'); one with a capital letter
        never clashes with a section's anchor (`aekit.report.html.anchor_for` writes lower case).
    codes, labels, classes, images, image_shape, value_range, max_points, seed
        As for `latent_map_data`.
    title : str, default "Interactive latent map"

    Returns
    -------
    str

    Examples
    --------
    >>> block = latent_map_html("m1", np.random.default_rng(0).random((30, 2)), labels=np.arange(30) % 3)
    >>> "id='m1-data'" in block, "aekitLatentMap('m1')" in block, "http" in block
    (True, True, False)
    """
    if not element_id.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"element_id must be letters, digits, '-' or '_', got {element_id!r}")
    data = latent_map_data(codes, labels, classes, images, image_shape, value_range, max_points, seed)
    shown = len(data["points"])
    sample = (f"a seeded random {shown:,} of the {data['n_total']:,} test samples" if shown < data["n_total"]
              else f"all {shown:,} test samples")
    hover = "the input image, its label and its code" if data["sprite"] else "its label and its code"
    keys = "".join(f"<span style='color:{PALETTE[i % 10]}'>●</span><span>{html.escape(c)}</span>"
                   for i, c in enumerate(data["classes"]))
    return (
        f"<div class='interactive aekit-map' id='{element_id}'><style>{_CSS}</style>"
        f"<p><b>{html.escape(title)}</b> — {html.escape(data['axes'])}; {sample}. Hover over a point for {hover}; "
        "wheel or buttons to zoom, drag to pan, double-click to reset. (Print shows the static scatter above.)</p>"
        "<div><button type='button' data-act='in'>zoom in</button><button type='button' data-act='out'>zoom out"
        "</button><button type='button' data-act='reset'>reset</button></div>"
        f"<canvas class='map'></canvas><div class='tip'><canvas></canvas><span></span></div>"
        f"<div class='keys'>{keys}</div>"
        f"<script type='application/json' id='{element_id}-data'>{script_json(data)}</script>"
        f"<script>{_SCRIPT}aekitLatentMap('{element_id}');</script></div>"
    )


__all__ = ["MAX_POINTS", "latent_map_data", "latent_map_html", "script_json", "sprite_sheet"]
