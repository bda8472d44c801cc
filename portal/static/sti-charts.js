/* sti-portal charts: Vega-Lite specs built from the JSON the page embeds (#sti-chart-data).
   Rendered as SVG with the vendored vega / vega-lite / vega-embed; no request leaves the portal. */
(function () {
  "use strict";
  var EMBED = { renderer: "svg", actions: false, tooltip: { theme: "light" } };
  var FONT = "system-ui, -apple-system, 'Segoe UI', 'Noto Sans CJK SC', 'WenQuanYi Zen Hei', 'Microsoft YaHei', sans-serif";
  var CONFIG = {
    font: FONT,
    axis: { labelFontSize: 11, titleFontSize: 11, grid: true, gridColor: "#eee" },
    legend: { labelFontSize: 11, titleFontSize: 11 },
    view: { stroke: null }
  };

  function payload() {
    var el = document.getElementById("sti-chart-data");
    return el ? JSON.parse(el.textContent) : null;
  }

  function embed(el, spec) {
    if (!el || typeof vegaEmbed === "undefined") { return; }
    spec.config = CONFIG;
    el.setAttribute("data-rendered", "pending");
    return vegaEmbed(el, spec, EMBED).then(function (result) {
      el.setAttribute("data-rendered", "true");
      return result;
    }).catch(function (error) {
      el.setAttribute("data-rendered", "error");
      el.textContent = "Chart could not be drawn: " + error.message;
    });
  }

  function barChart(data) {
    var el = document.getElementById("bar-chart");
    if (!el || !data.ranking.length) { return; }
    var layers = [{
      mark: { type: "bar", color: "#2b6cb0", tooltip: true },
      encoding: {
        y: { field: "label", type: "nominal", sort: { field: "value", order: "descending" }, title: null,
             axis: { labelLimit: 160 } },
        x: { field: "value", type: "quantitative", title: data.unit + " (" + data.unit_en + ")" },
        tooltip: [{ field: "rank", title: "Rank 排名" }, { field: "label", title: "Region 地区" },
                  { field: "display", title: "Value 数值 (" + data.unit + ")" }]
      }
    }];
    if (data.reference) {
      layers.push({
        data: { values: [data.reference] },
        mark: { type: "rule", color: "#c53030", strokeDash: [4, 3], strokeWidth: 1.5 },
        encoding: { x: { field: "value", type: "quantitative" },
                    tooltip: [{ field: "label", title: "Reference 参考" }, { field: "display", title: "Value 数值" }] }
      });
    }
    embed(el, {
      width: "container",
      height: { step: data.ranking.length > 40 ? 12 : 17 },
      data: { values: data.ranking },
      layer: layers,
      title: { text: data.year + (data.reference ? "  (red line: " + data.reference.label + " " + data.reference.display + ")" : ""),
               fontSize: 12, anchor: "start", fontWeight: "normal" }
    });
  }

  function chosenRegions(form) {
    var boxes = form ? form.querySelectorAll("input[name=region]:checked") : [];
    return Array.prototype.map.call(boxes, function (box) { return box.value; });
  }

  function lineChart(data, chosen) {
    var el = document.getElementById("line-chart");
    if (!el) { return; }
    var keep = {};
    chosen.forEach(function (code) { keep[code] = true; });
    var values = data.series.filter(function (row) { return keep[row.code]; });
    if (!values.length) {
      el.setAttribute("data-rendered", "empty");
      el.textContent = "请选择地区 Choose at least one region.";
      return;
    }
    var x = { field: "year", type: "quantitative", title: "年份 Year", axis: { format: "d", tickMinStep: 1 },
              scale: { zero: false, nice: false } };
    var y = { field: "value", type: "quantitative", title: data.unit + " (" + data.unit_en + ")" };
    var layers = [{
      mark: { type: "line", point: { size: 28 }, tooltip: true, strokeWidth: 2 },
      encoding: {
        x: x, y: y,
        color: { field: "label", type: "nominal", title: null,
                 legend: { orient: "bottom", columns: el.clientWidth < 600 ? 2 : 4 }, scale: { scheme: "tableau10" } },
        tooltip: [{ field: "label", title: "Region 地区" }, { field: "year", title: "Year 年份" },
                  { field: "display", title: "Value 数值 (" + data.unit + ")" }]
      }
    }];
    // Year-on-year warnings (often where two yearbook editions join): an orange ring on the value.
    var flagged = values.filter(function (row) { return row.warn; });
    if (flagged.length) {
      layers.push({
        data: { values: flagged },
        mark: { type: "point", shape: "circle", size: 160, strokeWidth: 2, color: "#dd6b20", filled: false },
        encoding: { x: x, y: y, tooltip: [{ field: "label", title: "Region 地区" }, { field: "year", title: "Year 年份" },
                                          { field: "warn", title: "⚠" }] }
      });
    }
    // Series breaks (status b: two releases join with a change beyond the usual bound): a dashed rule
    // at the year and a dark diamond on the value, so the jump is not read as growth.
    var breaks = values.filter(function (row) { return row.brk; });
    if (breaks.length) {
      layers.push({
        data: { values: breaks },
        mark: { type: "rule", strokeDash: [4, 3], strokeWidth: 1.2, color: "#4a5568" },
        encoding: { x: x }
      });
      layers.push({
        data: { values: breaks },
        mark: { type: "point", shape: "diamond", size: 130, filled: true, color: "#1a202c" },
        encoding: { x: x, y: y, tooltip: [{ field: "label", title: "Region 地区" }, { field: "year", title: "Year 年份" },
                                          { field: "brk", title: "b" }] }
      });
    }
    embed(el, { width: "container", height: 300, data: { values: values }, layer: layers });
  }

  function tileMap(data) {
    var el = document.getElementById("map-chart");
    if (!el) { return; }
    // Tiles fit the width the page gives (a phone is ~370 px): the legend goes below the map when narrow.
    var narrow = el.clientWidth < 640;
    var room = el.clientWidth - (narrow ? 8 : 110);
    var step = Math.max(36, Math.min(74, Math.floor(room / data.columns)));
    var nameSize = step < 56 ? 11 : 13, valueSize = step < 56 ? 9 : 11;
    var columns = [], rows = [];
    for (var c = 0; c < data.columns; c++) { columns.push(c); }
    for (var r = 0; r < data.rows; r++) { rows.push(r); }
    var x = { field: "col", type: "ordinal", axis: null, scale: { domain: columns, paddingInner: 0.06 } };
    var y = { field: "row", type: "ordinal", axis: null, scale: { domain: rows, paddingInner: 0.06 } };
    var tooltip = [{ field: "zh", title: "地区" }, { field: "en", title: "Region" },
                   { field: "display", title: data.year + " (" + data.unit + ")" }];
    embed(el, {
      width: { step: step },
      height: { step: step },
      data: { values: data.tiles },
      encoding: { x: x, y: y },
      layer: [
        { mark: { type: "rect", color: "#e2e2e2", cornerRadius: 3 },
          encoding: { href: { field: "url" }, tooltip: tooltip } },
        { transform: [{ filter: "datum.value != null" }],
          mark: { type: "rect", cornerRadius: 3, cursor: "pointer" },
          encoding: {
            color: { field: "value", type: "quantitative", scale: { scheme: "blues" },
                     legend: { title: data.unit, orient: narrow ? "bottom" : "right",
                               gradientLength: narrow ? Math.min(260, room - 40) : 260 } },
            href: { field: "url" }, tooltip: tooltip
          } },
        { mark: { type: "text", baseline: "middle", dy: -step / 7, fontSize: nameSize, fontWeight: "bold" },
          encoding: { text: { field: "zh" },
                      color: { condition: { test: "datum.value != null && datum.value > " + data.midpoint, value: "white" },
                               value: "#1a202c" } } },
        { mark: { type: "text", baseline: "middle", dy: step / 8, fontSize: valueSize },
          encoding: { text: { field: "display" },
                      color: { condition: { test: "datum.value != null && datum.value > " + data.midpoint, value: "white" },
                               value: "#1a202c" } } }
      ]
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-autosubmit]"), function (form) {
      form.addEventListener("change", function () { form.submit(); });
    });
    var data = payload();
    if (!data) { return; }
    if (data.tiles) { tileMap(data); return; }
    barChart(data);
    var form = document.getElementById("region-chooser");
    lineChart(data, data.chosen);
    if (form) {
      form.addEventListener("change", function () {
        var chosen = chosenRegions(form).slice(0, 12);
        lineChart(data, chosen);
        if (window.history && window.history.replaceState) {
          var params = new URLSearchParams();
          params.set("year", data.year);
          chosen.forEach(function (code) { params.append("region", code); });
          window.history.replaceState(null, "", window.location.pathname + "?" + params.toString() + "#trend");
        }
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
