// The funds page's charts (ECharts): income and spending by month with the balance, and the months of
// reserve with the 6- and 9-month lines. Data from the page's #funds-data JSON (display numbers only).
(function () {
  "use strict";
  var axisText = { color: "#455a64", fontSize: 11 };
  var split = { lineStyle: { color: "#eceff1" } };
  var drawn = [];

  function yuan(v) { return v === null ? "—" : Number(v).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }); }

  function init(id) {
    var el = document.getElementById(id);
    if (!el || typeof echarts === "undefined") { return null; }
    var c = echarts.init(el, null, { renderer: "canvas" });
    drawn.push(c);
    return c;
  }

  function draw() {
    var source = document.getElementById("funds-data");
    if (!source) { return; }
    var d;
    try { d = JSON.parse(source.textContent || "{}"); } catch (e) { return; }
    var flows = init("chart-flows");
    if (flows) {
      flows.setOption({
        animation: false,
        color: ["#2e7d32", "#c62828", "#1565c0"],
        grid: { left: 70, right: 70, top: 30, bottom: 30 },
        legend: { top: 0, textStyle: axisText, data: ["收入", "支出", "累计结余"] },
        tooltip: { trigger: "axis", valueFormatter: yuan },
        xAxis: { type: "category", data: d.months, axisLabel: axisText },
        yAxis: [{ type: "value", axisLabel: axisText, splitLine: split },
                { type: "value", axisLabel: axisText, splitLine: { show: false } }],
        series: [
          { name: "收入", type: "bar", data: d.income, barMaxWidth: 18 },
          { name: "支出", type: "bar", data: d.spending, barMaxWidth: 18 },
          { name: "累计结余", type: "line", yAxisIndex: 1, data: d.balance, symbolSize: 4 }
        ]
      }, true);
    }
    var reserve = init("chart-reserve");
    if (reserve) {
      reserve.setOption({
        animation: false,
        color: ["#6a1b9a"],
        grid: { left: 50, right: 30, top: 20, bottom: 30 },
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: d.months, axisLabel: axisText },
        yAxis: { type: "value", axisLabel: axisText, splitLine: split, min: 0 },
        series: [{
          name: "可支付月数", type: "line", data: d.reserve, connectNulls: false, symbolSize: 4,
          markLine: {
            symbol: "none", silent: true,
            lineStyle: { type: "dashed", color: "#ef6c00" },
            label: { formatter: "{c} 个月", color: "#ef6c00" },
            data: d.lines.map(function (n) { return { yAxis: n }; })
          }
        }]
      }, true);
    }
  }

  document.addEventListener("DOMContentLoaded", draw);
  window.addEventListener("resize", function () { drawn.forEach(function (c) { c.resize(); }); });
})();
