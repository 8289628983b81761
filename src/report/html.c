/* The HTML report (--html PATH): one self-contained file, written from the final snapshot,
 * that opens with no network access: inline CSS, the tables rendered here, and a small
 * inline script that draws the charts as SVG from the same per-second history the JSON
 * summary carries (embedded as a JSON data block). No external asset, no JS library.
 *
 * Everything that came from a user or a server (host, row names, error texts) is escaped
 * for HTML; the embedded JSON escapes "</" so no string can end its script element. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/duration.h"
#include "base/fmt.h"
#include "base/utf8.h"
#include "report/html.h"
#include "report/json.h"
#include "report/report.h"

/* Escapes s for HTML text and attribute values. Bytes that are not UTF-8, and control
 * characters other than tab and line breaks (C0, DEL, C1: parse errors in HTML), become
 * U+FFFD, so the page is valid whatever a name holds. */
static void esc(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t len = sl_utf8_seq_len(p + i, n - i);
        unsigned char c = p[i];
        if (len == 0 ||
            (len == 1 && ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)) ||
            (len == 2 && c == 0xC2 && p[i + 1] < 0xA0)) {
            fputs(SL_UTF8_REPLACEMENT, f);
            i += len ? len : 1;
            continue;
        }
        switch (c) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fwrite(p + i, 1, len, f);
        }
        i += len;
    }
}

static const char style[] =
    ":root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#fff;--head:#f3f4f6;--ok:#15803d;"
    "--bad:#b91c1c}\n"
    "*{box-sizing:border-box}\n"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "color:var(--fg);background:var(--bg);margin:0;padding:24px}\n"
    "main{max-width:1200px;margin:0 auto}\n"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}\n"
    ".sub{color:var(--muted);margin-bottom:16px}\n"
    "table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}\n"
    "th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:right;"
    "white-space:nowrap}\n"
    "th{background:var(--head);font-weight:600}\n"
    "td.l,th.l{text-align:left;white-space:normal;word-break:break-all}\n"
    "tr.total td{font-weight:600;border-top:2px solid #9ca3af}\n"
    "table.params,table.thr{width:auto}table.params th{text-align:left}\n"
    ".ok{color:var(--ok);font-weight:600}.bad{color:var(--bad);font-weight:600}\n"
    ".banner{padding:10px 14px;border-radius:6px;margin:12px 0;font-weight:600}\n"
    ".banner.ok{background:#dcfce7}.banner.bad{background:#fee2e2}\n"
    ".charts{display:grid;grid-template-columns:1fr;gap:18px}\n"
    ".chart{border:1px solid var(--line);border-radius:6px;padding:8px 10px}\n"
    ".chart h3{font-size:14px;margin:0 0 4px}\n"
    ".chart svg{display:block;width:100%;height:auto}\n"
    ".chart .legend span{margin-right:14px;color:var(--muted)}\n"
    ".chart .legend i{display:inline-block;width:12px;height:3px;margin-right:5px;"
    "vertical-align:middle}\n"
    ".none{color:var(--muted)}\n"
    "#sl-errors{color:var(--bad)}\n"
    "footer{color:var(--muted);margin-top:32px;font-size:12px}\n";

/* Draws each chart as SVG from the history: grid, axes with rounded ticks, one polyline
 * per series (null values leave gaps), a legend, and a hover read-out. Any exception is
 * written into #sl-errors so that a headless test can see it in the DOM. */
static const char script[] =
    "(function(){\n"
    "'use strict';\n"
    "var NS='http://www.w3.org/2000/svg';\n"
    "function el(name,attrs,parent){var e=document.createElementNS(NS,name);"
    "for(var k in attrs)e.setAttribute(k,attrs[k]);if(parent)parent.appendChild(e);return e;}\n"
    "function nice(max){if(!(max>0))return 1;var p=Math.pow(10,Math.floor(Math.log10(max)));"
    "var m=max/p;return (m<=1?1:m<=2?2:m<=2.5?2.5:m<=5?5:10)*p;}\n"
    "function fmtNum(v){if(v===null||v===undefined)return '-';var a=Math.abs(v);"
    "if(a>=1e6)return +(v/1e6).toFixed(2)+'M';if(a>=1e4)return +(v/1e3).toFixed(1)+'k';"
    "if(v===Math.round(v))return String(v);"
    "return String(+(a>=100?v.toFixed(0):a>=10?v.toFixed(1):a>=1?v.toFixed(2):v.toFixed(3)));}\n"
    "function niceT(span){var steps=[1,2,5,10,15,30,60,120,300,600,900,1800,3600,7200,"
    "10800,21600,43200,86400];for(var i=0;i<steps.length;i++)if(span/steps[i]<=10)"
    "return steps[i];return steps[steps.length-1]*Math.ceil(span/10/86400);}\n"
    "function fmtT(s){s=Math.round(s);if(s<60)return s+'s';var m=Math.floor(s/60),r=s%60;"
    "if(m<60)return m+'m'+(r?r+'s':'');var h=Math.floor(m/60);m=m%60;"
    "return h+'h'+(m?m+'m':'');}\n"
    "function chart(box,spec,data){\n"
    " var W=1100,H=260,L=64,R=16,T=12,B=34,w=W-L-R,h=H-T-B;\n"
    " var svg=el('svg',{viewBox:'0 0 '+W+' '+H,role:'img','aria-label':spec.title},box);\n"
    " var xs=data.map(function(d){return d.t_s;});\n"
    " var xmax=xs.length?Math.max.apply(null,xs):1;if(!(xmax>0))xmax=1;\n"
    " var ymax=0;spec.series.forEach(function(s){data.forEach(function(d){var v=d[s.key];"
    "if(v!==null&&v>ymax)ymax=v;});});\n"
    " var top=nice(ymax*1.05),xstep=niceT(xmax);\n"
    " function X(t){return L+t/xmax*w;}function Y(v){return T+h-v/top*h;}\n"
    " for(var i=0;i<=5;i++){var v=top*i/5,y=Y(v);"
    "el('line',{x1:L,x2:L+w,y1:y,y2:y,stroke:'#e5e7eb'},svg);"
    "var t=el('text',{x:L-6,y:y+4,'text-anchor':'end','font-size':11,fill:'#6b7280'},svg);"
    "t.textContent=fmtNum(v);}\n"
    " for(var x=0;x<=xmax+1e-9;x+=xstep){var px=X(x);"
    "el('line',{x1:px,x2:px,y1:T,y2:T+h,stroke:'#f3f4f6'},svg);"
    "var tx=el('text',{x:px,y:T+h+16,'text-anchor':'middle','font-size':11,fill:'#6b7280'},svg);"
    "tx.textContent=fmtT(x);}\n"
    " el('line',{x1:L,x2:L+w,y1:T+h,y2:T+h,stroke:'#9ca3af'},svg);\n"
    " el('line',{x1:L,x2:L,y1:T,y2:T+h,stroke:'#9ca3af'},svg);\n"
    " var yl=el('text',{x:12,y:T+h/2,'font-size':11,fill:'#6b7280','text-anchor':'middle',"
    "transform:'rotate(-90 12 '+(T+h/2)+')'},svg);yl.textContent=spec.unit;\n"
    " spec.series.forEach(function(s){var runs=[],cur=[];data.forEach(function(d){"
    "var v=d[s.key];if(v===null||v===undefined){if(cur.length)runs.push(cur);cur=[];}"
    "else cur.push(X(d.t_s).toFixed(1)+','+Y(v).toFixed(1));});if(cur.length)runs.push(cur);\n"
    "  runs.forEach(function(r){if(r.length===1){var p=r[0].split(',');"
    "el('circle',{cx:p[0],cy:p[1],r:3,fill:s.color,'class':'sl-mark'},svg);}"
    "else el('polyline',{points:r.join(' '),fill:'none',stroke:s.color,'stroke-width':2,"
    "'stroke-linejoin':'round','class':'sl-line'},svg);});});\n"
    " var cursor=el('line',{x1:0,x2:0,y1:T,y2:T+h,stroke:'#9ca3af','stroke-dasharray':'3 3',"
    "visibility:'hidden'},svg);\n"
    " var tip=el('text',{x:L+8,y:T+14,'font-size':12,fill:'#1f2937',visibility:'hidden'},svg);\n"
    " var hit=el('rect',{x:L,y:T,width:w,height:h,fill:'transparent'},svg);\n"
    " hit.addEventListener('mousemove',function(ev){if(!data.length)return;"
    "var r=svg.getBoundingClientRect(),px=(ev.clientX-r.left)*W/r.width;"
    "var t=(px-L)/w*xmax,best=0;for(var i=1;i<data.length;i++)"
    "if(Math.abs(data[i].t_s-t)<Math.abs(data[best].t_s-t))best=i;var d=data[best];"
    "cursor.setAttribute('x1',X(d.t_s));cursor.setAttribute('x2',X(d.t_s));"
    "cursor.setAttribute('visibility','visible');tip.textContent=fmtT(d.t_s)+'  '+"
    "spec.series.map(function(s){return s.name+' '+fmtNum(d[s.key]);}).join('  ');"
    "tip.setAttribute('visibility','visible');});\n"
    " hit.addEventListener('mouseleave',function(){cursor.setAttribute('visibility','hidden');"
    "tip.setAttribute('visibility','hidden');});\n"
    " var lg=document.createElement('div');lg.className='legend';spec.series.forEach(function(s){"
    "var sp=document.createElement('span'),i=document.createElement('i');"
    "i.style.background=s.color;sp.appendChild(i);sp.appendChild(document.createTextNode(s.name));"
    "lg.appendChild(sp);});box.appendChild(lg);\n"
    " box.setAttribute('data-drawn',String(data.length));\n"
    "}\n"
    "try{\n"
    " var data=JSON.parse(document.getElementById('sl-history').textContent);\n"
    " var specs={'chart-rps':{title:'Requests and failures per second',unit:'per second',"
    "series:[{key:'rps',name:'requests/s',color:'#2563eb'},"
    "{key:'failures_per_s',name:'failures/s',color:'#dc2626'}]},\n"
    "  'chart-latency':{title:'Response times',unit:'ms',series:[{key:'p50_ms',name:'p50',"
    "color:'#16a34a'},{key:'p95_ms',name:'p95',color:'#ea580c'},"
    "{key:'p99_ms',name:'p99',color:'#9333ea'}]},\n"
    "  'chart-users':{title:'Users',unit:'users',series:[{key:'users',name:'users',"
    "color:'#0891b2'}]}};\n"
    " Object.keys(specs).forEach(function(id){chart(document.getElementById(id),specs[id],data);});"
    "\n"
    " document.body.setAttribute('data-charts','ok');\n"
    "}catch(e){var out=document.getElementById('sl-errors');"
    "out.textContent='chart error: '+e+(e&&e.stack?'\\n'+e.stack:'');"
    "document.body.setAttribute('data-charts','error');if(window.console)console.error(e);}\n"
    "})();\n";

/* One time cell, or "-" for a row that completed no request: a percentile of nothing is
 * not a number. */
static void put_ms(FILE *f, bool any, double v)
{
    if (any)
        fprintf(f, "<td>%.2f</td>", v);
    else
        fputs("<td class=\"none\">-</td>", f);
}

static void param(FILE *f, const char *name, const char *value)
{
    fprintf(f, "<tr><th>%s</th><td class=\"l\">", name);
    esc(f, value);
    fputs("</td></tr>\n", f);
}

static void stats_row(FILE *f, const char *method, const char *name, const sl_row_stats_t *r,
                      double secs, bool total)
{
    const sl_hist_t *h = &r->latency;
    bool any = h->total_count > 0;
    fprintf(f, "<tr%s><td class=\"l\">", total ? " class=\"total\"" : "");
    esc(f, method);
    fputs("</td><td class=\"l\">", f);
    esc(f, name);
    fprintf(f, "</td><td>%" PRIu64 "</td><td%s>%" PRIu64 "</td>", r->num_requests,
            r->num_failures ? " class=\"bad\"" : "", r->num_failures);
    put_ms(f, any, any ? sl_fmt_ms(sl_hist_percentile(h, 50)) : 0.0);
    put_ms(f, any, any ? sl_fmt_ms(sl_hist_mean(h)) : 0.0);
    put_ms(f, any, any ? sl_fmt_ms(h->min_us) : 0.0);
    put_ms(f, any, sl_fmt_ms(h->max_us));
    fprintf(f, "<td>%.1f</td><td>%.1f</td><td>%.1f</td></tr>\n",
            r->num_requests ? (double)r->content_bytes / (double)r->num_requests : 0.0,
            (double)r->num_requests / secs, (double)r->num_failures / secs);
}

static void pct_row(FILE *f, const char *method, const char *name, const sl_row_stats_t *r,
                    bool total)
{
    fprintf(f, "<tr%s><td class=\"l\">", total ? " class=\"total\"" : "");
    esc(f, method);
    fputs("</td><td class=\"l\">", f);
    esc(f, name);
    fputs("</td>", f);
    for (int p = 0; p < SL_REPORT_NPCTS; p++)
        put_ms(f, r->latency.total_count > 0,
               sl_fmt_ms(sl_hist_percentile(&r->latency, sl_report_pcts[p])));
    fprintf(f, "<td>%" PRIu64 "</td></tr>\n", r->num_requests);
}

/* The embedded history: JSON written with '<' escaped in strings, so that no value can
 * close the script element (the history holds numbers only, but stays safe if it grows). */
/* The timing phases (docs/phases.md) as means per request, in the order they happen. */
#define SL_HTML_NPHASES 5
#define SL_HTML_PHASE_ROWS 100 /* bars drawn at most; the table lists every row */
static const char *const phase_names[SL_HTML_NPHASES] = {"connecting", "TLS handshaking", "sending",
                                                         "waiting", "receiving"};
static const char *const phase_colors[SL_HTML_NPHASES] = {"#0891b2", "#9333ea", "#ea580c",
                                                          "#2563eb", "#16a34a"};

static void phase_means(const sl_row_stats_t *r, double out[SL_HTML_NPHASES])
{
    double n = r->num_requests ? (double)r->num_requests : 1.0;
    double responses = r->waiting.total_count ? (double)r->waiting.total_count : 1.0;
    out[0] = (double)r->phases.connect_us / n;
    out[1] = (double)r->phases.tls_us / n;
    out[2] = (double)r->phases.sending_us / responses;
    out[3] = sl_hist_mean(&r->waiting);
    out[4] = sl_hist_mean(&r->receiving);
}

/* One stacked bar per row (the first SL_HTML_PHASE_ROWS in the tables' order, then the
 * total), drawn here as SVG in the charts' colours; each segment has a title tooltip. */
static void write_phase_chart(FILE *f, const sl_snapshot_t *s, const size_t *order)
{
    size_t nbars = s->nrows < SL_HTML_PHASE_ROWS ? s->nrows : SL_HTML_PHASE_ROWS;
    double top = 0;
    for (size_t k = 0; k <= nbars; k++) {
        const sl_row_stats_t *r =
            k == nbars ? s->total : &s->stats->rows[sl_report_row_at(order, k)];
        double m[SL_HTML_NPHASES], sum = 0;
        phase_means(r, m);
        for (int p = 0; p < SL_HTML_NPHASES; p++)
            sum += m[p];
        if (sum > top)
            top = sum;
    }
    if (!(top > 0))
        top = 1;
    const int W = 1100, L = 280, R = 90, bar = 16, gap = 8, T = 8;
    int H = T + (int)(nbars + 1) * (bar + gap) + 8;
    fprintf(f,
            "<div class=\"chart\" id=\"chart-phases\"><h3>Where the time went: mean per request "
            "(ms)</h3>\n<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"timing phases per "
            "row\">\n",
            W, H);
    for (size_t k = 0; k <= nbars; k++) {
        bool total = k == nbars;
        size_t i = total ? 0 : sl_report_row_at(order, k);
        const sl_row_stats_t *r = total ? s->total : &s->stats->rows[i];
        double m[SL_HTML_NPHASES], x = L, sum = 0;
        phase_means(r, m);
        int y = T + (int)k * (bar + gap);
        fprintf(f,
                "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\" "
                "fill=\"#1f2937\">",
                L - 8, y + bar - 4);
        if (total) {
            fputs("Aggregated", f);
        } else {
            esc(f, s->rows[i].method);
            fputc(' ', f);
            esc(f, s->rows[i].name);
        }
        fputs("</text>\n", f);
        for (int p = 0; p < SL_HTML_NPHASES; p++) {
            double w = m[p] / top * (W - L - R);
            sum += m[p];
            if (w <= 0)
                continue;
            fprintf(f,
                    "<rect class=\"sl-phase\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
                    "height=\"%d\" fill=\"%s\"><title>%s %.3f ms</title></rect>\n",
                    x, y, w, bar, phase_colors[p], phase_names[p], sl_fmt_ms3(m[p]));
            x += w;
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" fill=\"#6b7280\">%.2f ms</text>\n",
                x + 6, y + bar - 4, sl_fmt_ms(sum));
    }
    fputs("</svg>\n<div class=\"legend\">", f);
    for (int p = 0; p < SL_HTML_NPHASES; p++)
        fprintf(f, "<span><i style=\"background:%s\"></i>%s</span>", phase_colors[p],
                phase_names[p]);
    fputs("</div>\n", f);
    if (s->nrows > nbars)
        fprintf(f, "<p class=\"none\">The first %zu of %zu rows; the table lists all.</p>\n", nbars,
                s->nrows);
    fputs("</div>\n", f);
}

static void phase_row(FILE *f, const char *method, const char *name, const sl_row_stats_t *r,
                      bool total)
{
    const sl_phases_sums_t *p = &r->phases;
    fprintf(f, "<tr%s><td class=\"l\">", total ? " class=\"total\"" : "");
    esc(f, method);
    fputs("</td><td class=\"l\">", f);
    esc(f, name);
    fputs("</td>", f);
    const sl_hist_t *hs[] = {&r->waiting, &r->receiving};
    for (size_t k = 0; k < SL_ARRAY_LEN(hs); k++) {
        bool any = hs[k]->total_count > 0;
        put_ms(f, any, any ? sl_fmt_ms(sl_hist_mean(hs[k])) : 0);
        put_ms(f, any, sl_fmt_ms((double)sl_hist_percentile(hs[k], 50)));
        put_ms(f, any, sl_fmt_ms((double)sl_hist_percentile(hs[k], 99)));
    }
    uint64_t nr = r->waiting.total_count, nc = p->new_conns;
    put_ms(f, nr > 0, nr ? sl_fmt_ms((double)p->sending_us / (double)nr) : 0);
    put_ms(f, nc > 0, nc ? sl_fmt_ms((double)p->connect_us / (double)nc) : 0);
    put_ms(f, nc > 0, nc ? sl_fmt_ms((double)p->tls_us / (double)nc) : 0);
    fprintf(f, "<td>%" PRIu64 "</td><td>%" PRIu64 "</td></tr>\n", p->new_conns, p->reused_conns);
}

static void write_phases(FILE *f, const sl_snapshot_t *s, const size_t *order)
{
    fputs("<h2>Timing phases</h2>\n", f);
    write_phase_chart(f, s, order);
    fprintf(f, "<table>\n<tr><th class=\"l\">Type</th><th class=\"l\">Name</th>"
               "<th>Waiting avg</th><th>Waiting 50%%</th><th>Waiting 99%%</th>"
               "<th>Receiving avg</th><th>Receiving 50%%</th><th>Receiving 99%%</th>"
               "<th>Sending avg</th><th>Connect avg</th><th>TLS avg</th><th># new conns</th>"
               "<th># reused</th></tr>\n");
    for (size_t k = 0; k < s->nrows; k++) {
        size_t i = sl_report_row_at(order, k);
        phase_row(f, s->rows[i].method, s->rows[i].name, &s->stats->rows[i], false);
    }
    phase_row(f, "", "Aggregated", s->total, true);
    fprintf(f,
            "</table>\n<p class=\"none\">Milliseconds. Waiting: request sent to first response "
            "byte; receiving: first to last byte; connect and TLS per new connection (in the "
            "bars, per request). The host name was resolved once before the start, in %.3f "
            "ms.</p>\n",
            sl_fmt_ms3((double)s->dns_us));
}

static int write_history(FILE *f, const sl_snapshot_t *s)
{
    fputs("<script type=\"application/json\" id=\"sl-history\">", f);
    sl_jw_t w;
    sl_jw_init(&w, f, false);
    w.html_safe = true;
    sl_report_history_write(&w, NULL, s);
    fputs("</script>\n", f);
    return SL_OK;
}

int sl_html_write(FILE *f, const sl_snapshot_t *s, const char *scenario_file, uint64_t timeout_us)
{
    double secs = s->elapsed_us ? (double)s->elapsed_us / 1e6 : 1.0;
    char when[32], buf[128], el[32];
    time_t t = (time_t)(s->started_wall_us / SL_US_PER_S);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    sl_duration_format(s->elapsed_us / SL_US_PER_MS * SL_US_PER_MS, el, sizeof(el));

    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<title>stormlight report: ",
          f);
    esc(f, s->host);
    fprintf(f, " %s</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", when, style);
    fputs("<h1>stormlight report</h1>\n<div class=\"sub\">", f);
    esc(f, s->host);
    fprintf(f, " &middot; started %s &middot; ran %s</div>\n", when, el);

    const sl_verdicts_t *set = s->outcome ? &s->outcome->thresholds : NULL;
    if (set && set->n) {
        bool pass = true;
        for (size_t i = 0; i < set->n; i++)
            pass &= set->item[i].ok;
        fprintf(f, "<div class=\"banner %s\">%s</div>\n", pass ? "ok" : "bad",
                pass ? "All thresholds met" : "Thresholds breached");
    }
    if (set && set->aborted_by) {
        fputs("<div class=\"banner bad\">Aborted early: threshold ", f);
        esc(f, set->aborted_by);
        fputs(" was breached for good</div>\n", f);
    }

    fputs("<h2>Run</h2>\n<table class=\"params\">\n", f);
    param(f, "Host", s->host);
    if (scenario_file)
        param(f, "Scenario file", scenario_file);
    const sl_run_outcome_t *oc = s->outcome;
    if (oc)
        snprintf(buf, sizeof(buf), "%u at the peak (asked for: %u)", oc->peak_users,
                 oc->target_users);
    else
        snprintf(buf, sizeof(buf), "%u (running at the end: %u)", s->users_target,
                 s->users_running);
    param(f, "Users", buf);
    snprintf(buf, sizeof(buf), "%g per second", s->spawn_rate);
    param(f, "Spawn rate", buf);
    if (s->duration_us)
        sl_duration_format(s->duration_us, buf, sizeof(buf));
    else
        snprintf(buf, sizeof(buf), "until stopped");
    param(f, "Run time", buf);
    param(f, "Elapsed", el);
    if (oc && oc->stop_reason)
        param(f, "Stopped by", oc->stop_reason);
    snprintf(buf, sizeof(buf), "%u", s->threads);
    param(f, "Threads", buf);
    if (timeout_us) {
        sl_duration_format(timeout_us, buf, sizeof(buf));
        param(f, "Request timeout", buf);
    }
    param(f, "Started", when);
    snprintf(buf, sizeof(buf), "%" PRIu64 " in flight at stop, %" PRIu64 " retries",
             s->stats->in_flight_at_stop, s->stats->retries);
    param(f, "Accounting", buf);
    param(f, "stormlight", SL_VERSION);
    fputs("</table>\n", f);

    if (set && set->n) {
        fputs("<h2>Thresholds</h2>\n<table class=\"thr\">\n<tr><th></th><th "
              "class=\"l\">Threshold</th>"
              "<th>Observed</th></tr>\n",
              f);
        for (size_t i = 0; i < set->n; i++) {
            const sl_verdict_t *r = &set->item[i];
            fprintf(f, "<tr><td class=\"%s\">%s</td><td class=\"l\">", r->ok ? "ok" : "bad",
                    r->ok ? "&#10003;" : "&#10007;");
            esc(f, r->expr);
            fputs("</td><td>", f);
            esc(f, r->text);
            fputs("</td></tr>\n", f);
        }
        fputs("</table>\n", f);
    }

    fputs("<h2>Over time</h2>\n<div class=\"charts\">\n"
          "<div class=\"chart\" id=\"chart-rps\"><h3>Requests and failures per second</h3></div>\n"
          "<div class=\"chart\" id=\"chart-latency\"><h3>Response times, p50 / p95 / p99 "
          "(ms, per second)</h3></div>\n"
          "<div class=\"chart\" id=\"chart-users\"><h3>Users</h3></div>\n</div>\n"
          "<pre id=\"sl-errors\"></pre>\n",
          f);

    fputs("<h2>Request statistics</h2>\n<table>\n<tr><th class=\"l\">Type</th>"
          "<th class=\"l\">Name</th><th># requests</th><th># fails</th><th>Median (ms)</th>"
          "<th>Average (ms)</th><th>Min (ms)</th><th>Max (ms)</th><th>Avg size (bytes)</th>"
          "<th>RPS</th><th>Failures/s</th></tr>\n",
          f);
    size_t *order = sl_report_order(s);
    for (size_t k = 0; k < s->nrows; k++) {
        size_t i = sl_report_row_at(order, k);
        stats_row(f, s->rows[i].method, s->rows[i].name, &s->stats->rows[i], secs, false);
    }
    stats_row(f, "", "Aggregated", s->total, secs, true);
    fputs("</table>\n", f);

    fputs("<h2>Response time percentiles (ms)</h2>\n<table>\n<tr><th class=\"l\">Type</th>"
          "<th class=\"l\">Name</th>",
          f);
    for (int p = 0; p < SL_REPORT_NPCTS; p++)
        fprintf(f, "<th>%s%%</th>", sl_report_pct_keys[p]);
    fputs("<th># requests</th></tr>\n", f);
    for (size_t k = 0; k < s->nrows; k++) {
        size_t i = sl_report_row_at(order, k);
        pct_row(f, s->rows[i].method, s->rows[i].name, &s->stats->rows[i], false);
    }
    pct_row(f, "", "Aggregated", s->total, true);
    fputs("</table>\n", f);
    write_phases(f, s, order);
    free(order);

    fputs("<h2>Errors</h2>\n", f);
    if (s->stats->nerrors == 0) {
        fputs("<p class=\"none\">No failed requests.</p>\n", f);
    } else {
        fputs("<table>\n<tr><th># occurrences</th><th class=\"l\">Type</th>"
              "<th class=\"l\">Name</th><th class=\"l\">Error</th></tr>\n",
              f);
        for (uint32_t i = 0; i < s->stats->nerrors; i++) {
            const sl_error_entry_t *e = &s->stats->errors[i];
            fprintf(f, "<tr><td>%" PRIu64 "</td><td class=\"l\">", e->occurrences);
            esc(f, s->rows[e->row].method);
            fputs("</td><td class=\"l\">", f);
            esc(f, s->rows[e->row].name);
            fputs("</td><td class=\"l\">", f);
            esc(f, sl_snapshot_error_text(s, e, buf, sizeof(buf)));
            fputs("</td></tr>\n", f);
        }
        fputs("</table>\n", f);
    }
    fputs("<h2>Exceptions</h2>\n", f);
    if (s->stats->nexceptions == 0 || !s->texts) {
        fputs("<p class=\"none\">No script errors.</p>\n", f);
    } else {
        fputs("<table>\n<tr><th># occurrences</th><th class=\"l\">Location</th>"
              "<th class=\"l\">Message</th></tr>\n",
              f);
        for (uint32_t i = 0; i < s->stats->nexceptions; i++) {
            const char *where, *msg;
            sl_rows_get(s->texts, s->stats->exceptions[i].text, &where, &msg);
            fprintf(f, "<tr><td>%" PRIu64 "</td><td class=\"l\">",
                    s->stats->exceptions[i].occurrences);
            esc(f, where);
            fputs("</td><td class=\"l\">", f);
            esc(f, msg);
            fputs("</td></tr>\n", f);
        }
        fputs("</table>\n", f);
    }

    fprintf(f,
            "<footer>Generated by stormlight %s. Times are response times from the moment "
            "a request was meant to start to its last byte. Per-second charts show each "
            "second on its own; tables cover the whole run.</footer>\n</main>\n",
            SL_VERSION);
    int rc = write_history(f, s);
    fprintf(f, "<script>\n%s</script>\n</body>\n</html>\n", script);
    return rc;
}
