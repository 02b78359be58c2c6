// The policy simulation's charts (政策测算): baseline against proposal, from the page's JSON.
(function () {
  "use strict";
  var palette = ["#90a4ae", "#1565c0", "#2e7d32", "#ef6c00"];
  var axisText = { color: "#455a64", fontSize: 11 };
  var charts = [];

  function yuan(v) { return Number(v).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }); }

  function draw(id, labels, series) {
    var el = document.getElementById(id);
    if (!el || typeof echarts === "undefined" || !labels) { return; }
    var c = echarts.init(el, null, { renderer: "canvas" });
    charts.push(c);
    c.setOption({
      color: palette,
      animation: false,
      legend: { top: 0, textStyle: axisText },
      grid: { left: 70, right: 20, top: 30, bottom: 40 },
      tooltip: { trigger: "axis", valueFormatter: yuan },
      xAxis: { type: "category", data: labels, axisLabel: Object.assign({ width: 90, overflow: "truncate" }, axisText) },
      yAxis: { type: "value", axisLabel: axisText, splitLine: { lineStyle: { color: "#eceff1" } } },
      series: series.map(function (s) {
        return { name: s[0], type: "bar", data: s[1], barMaxWidth: 26, itemStyle: { borderRadius: 3 } };
      })
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var source = document.getElementById("sim-chart-data");
    if (!source) { return; }
    var d;
    try { d = JSON.parse(source.textContent || "{}"); } catch (e) { return; }
    if (!d.funds) { return; }
    draw("sim-funds", d.funds.labels, [["现行", d.funds.baseline], ["方案", d.funds.proposal]]);
    draw("sim-hosp-lv", d.hosp_lv.labels, [["现行", d.hosp_lv.baseline], ["方案", d.hosp_lv.proposal]]);
    draw("sim-psn-type", d.psn_type.labels, [["现行", d.psn_type.baseline], ["方案", d.psn_type.proposal]]);
    draw("sim-cost-band", d.cost_band.labels, [["基金变化", d.cost_band.fund], ["个人负担变化", d.cost_band.oop]]);
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
