"""The page shell of the HTML report: inline CSS, a tiny inline script, the outer markup.

Everything is inline because the report must open from ``file://`` and as a downloaded CI
artifact, where any ``<link>`` or CDN script would be missing. The script does not draw
anything (the charts are plain SVG, readable with JavaScript off); it only records, in
attributes of ``<html>``, that each chart laid out with a non-empty line (``data-charts``,
``data-rendered``) and any JavaScript error (``data-errors``), so a headless browser's
``--dump-dom`` shows whether the page really rendered. The generator ``<meta>`` marks the page
as leakbench's, so a later ``report --html`` may replace it (``leakbench._util.output_guard``).
"""

from __future__ import annotations

from html import escape

from leakbench._util.output_guard import GENERATOR_META

__all__ = ["CSS", "SCRIPT", "page"]

CSS = """
:root{--leak:#c62828;--clean:#2e7d32;--base:#6b7280;--warn:#b45309;--ink:#111827;
--muted:#6b7280;--line:#e5e7eb;--bg:#f9fafb}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--ink);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:0 20px 40px}
header.banner{padding:18px 24px;color:#fff;background:#1f2937}
header.banner.bad{background:var(--leak)}header.banner.warn{background:#92400e}
header.banner.good{background:var(--clean)}
.banner h1{margin:0 0 4px;font-size:22px}.banner .headline{font-size:18px;font-weight:600}
.banner .env{margin-top:6px;font-size:13px;opacity:.92}
.banner code{background:rgba(255,255,255,.18);padding:1px 5px;border-radius:4px}
.counts{display:flex;gap:12px;margin:16px 0;flex-wrap:wrap}
.count{background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 14px}
.count b{display:block;font-size:22px}.count.bad b{color:var(--leak)}
h2{margin:28px 0 8px;font-size:18px;border-bottom:2px solid var(--line);padding-bottom:4px}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600;font-size:13px}td.num,th.num{text-align:right;white-space:nowrap;
font-variant-numeric:tabular-nums}
.notes{background:#fffbeb;border:1px solid #fcd34d;border-radius:8px;padding:8px 14px}
.notes li{margin:2px 0}
.row{display:grid;grid-template-columns:1fr 1fr;gap:14px;margin:10px 0}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 14px;
min-width:0}
.card.leaking{border-left:5px solid var(--leak)}.card.regressed{border:2px solid var(--leak)}
.card h3{margin:0;font-size:15px;display:flex;justify-content:space-between;gap:8px}
.badge{font-size:12px;font-weight:600;border-radius:10px;padding:1px 9px;white-space:nowrap;
color:#fff;background:var(--base)}
.badge.leak,.badge.regression{background:var(--leak)}.badge.ok{background:var(--clean)}
.badge.inconclusive{background:var(--warn)}
.stats{display:grid;grid-template-columns:repeat(4,1fr);gap:4px 10px;margin:8px 0}
.stat span{display:block;color:var(--muted);font-size:11px;text-transform:uppercase}
.stat b{font-size:14px;font-variant-numeric:tabular-nums}.stat small{display:block;
color:var(--muted);font-size:11px}.stat.hot b{color:var(--leak)}
svg.chart{width:100%;height:auto;display:block}
svg .grid{stroke:var(--line)}svg .tick,svg .axis{font-size:11px;fill:var(--muted)}
svg .line{fill:none;stroke-width:2.2}svg .line.leaky{stroke:var(--leak)}
svg .line.clean{stroke:var(--clean)}svg .line.base{stroke:var(--base);stroke-dasharray:5 4;
stroke-width:1.6}svg .dot.leaky{fill:var(--leak)}svg .dot.clean{fill:var(--clean)}
svg .dot.base{fill:var(--base)}
.legend{font-size:12px;color:var(--muted)}.legend i{display:inline-block;width:18px;
height:0;border-top:3px solid;margin:0 4px 3px 8px;vertical-align:middle}
.legend i.leaky{border-color:var(--leak)}.legend i.clean{border-color:var(--clean)}
.legend i.base{border-top:2px dashed var(--base)}
.nochart{padding:30px 10px;text-align:center;color:var(--muted);background:var(--bg);
border-radius:6px}
.detail{font-size:13px;margin-top:6px}.detail .note{color:var(--warn)}
.sites td{font-size:12px}.sites code{word-break:break-all}
a{color:#1d4ed8}.muted{color:var(--muted)}
footer{color:var(--muted);font-size:12px;margin-top:30px}
@media (max-width:800px){.row{grid-template-columns:1fr}.stats{grid-template-columns:1fr 1fr}}
"""

SCRIPT = """
(function(){
  var root=document.documentElement, errors=[];
  function record(msg){
    errors.push(String(msg));root.setAttribute('data-errors',errors.join(' | '));
  }
  window.addEventListener('error',function(e){record(e.message||'error');});
  window.addEventListener('unhandledrejection',function(e){record(e.reason||'rejection');});
  window.addEventListener('load',function(){
    var charts=document.querySelectorAll('svg.chart'), drawn=0;
    for(var i=0;i<charts.length;i++){
      var lines=charts[i].querySelectorAll('polyline'), ok=lines.length>0;
      for(var j=0;j<lines.length;j++){
        var box=lines[j].getBBox();
        if(!(lines[j].points.numberOfItems>0&&(box.width>0||box.height>0))){ok=false;}
      }
      charts[i].setAttribute('data-rendered',ok?'yes':'no');
      if(ok){drawn++;}
    }
    root.setAttribute('data-charts',String(charts.length));
    root.setAttribute('data-rendered',String(drawn));
  });
})();
"""


def page(title: str, body: str) -> str:
    """The complete document around ``body`` (already escaped HTML)."""
    return (
        '<!DOCTYPE html>\n<html lang="en" data-errors="">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{GENERATOR_META}\n"
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n"
        f"<script>{SCRIPT}</script>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
