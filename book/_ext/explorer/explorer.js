/* The book's explorer: menus over the stored sweeps, grouped by sweep, then measure, then hidden
   layer; a sweep's data is loaded only when it is chosen. dfa_lafs/explorer.py writes the data,
   book/_ext/explorer_site.py adds this script to the explorer's page. Each data file is a script that calls dfaExplorer.receive(name, data), so the
   explorer works from a web server and from a copy of the site opened from disk. */
(function () {
  "use strict";

  const loaded = {};  // name -> data
  const waiting = {};  // name -> [callbacks]
  window.dfaExplorer = {
    receive(name, data) {
      loaded[name] = data;
      (waiting[name] || []).forEach((done) => done(null, data));
      delete waiting[name];
    },
  };

  function load(root, name, file) {
    if (loaded[name]) return Promise.resolve(loaded[name]);
    return new Promise((resolve, reject) => {
      const first = !waiting[name];
      (waiting[name] = waiting[name] || []).push((err, data) => (err ? reject(err) : resolve(data)));
      if (!first) return;
      const script = document.createElement("script");
      script.src = root + file;
      script.onerror = () => {
        (waiting[name] || []).forEach((done) => done(new Error(script.src)));
        delete waiting[name];
        script.remove();
      };
      document.head.appendChild(script);
    });
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => (k === "text" ? (node.textContent = v) : node.setAttribute(k, v)));
    children.forEach((c) => node.appendChild(c));
    return node;
  }

  function menu(name, label) {
    const select = el("select", { name: name, id: "dfa-explorer-" + name });
    return [el("label", { for: select.id }, el("span", { text: label }), select), select];
  }

  function option(value, text) {
    return el("option", { value: value, text: text });
  }

  const RULES = { bp: "BP", fa: "FA", dfa: "DFA", lafs: "LAFS" };

  function start(box, index) {
    const root = (document.documentElement.dataset.content_root || "") + box.dataset.src;
    const [sweepLabel, sweepMenu] = menu("sweep", "Sweep");
    const [measureLabel, measureMenu] = menu("measure", "Measure");
    const [layerLabel, layerMenu] = menu("layer", "Hidden layer");
    const [runsLabel, runsMenu] = menu("runs", "Runs");
    const about = el("p", { class: "dfa-explorer-about" });
    const plot = el("div", { class: "dfa-explorer-plot" });
    const status = el("p", { class: "dfa-explorer-status", "aria-live": "polite" });
    box.replaceChildren(el("form", { class: "dfa-explorer-menu" }, sweepLabel, measureLabel, layerLabel, runsLabel),
      about, plot, status);

    index.sweeps.forEach((s) => sweepMenu.appendChild(option(s.name, `${s.name} (${s.runs} runs)`)));
    const groups = {};
    index.measures.forEach((m) => {
      if (!groups[m.group]) measureMenu.appendChild((groups[m.group] = el("optgroup", { label: m.group })));
      groups[m.group].appendChild(option(m.key, m.label));
    });

    const sweep = () => index.sweeps.find((s) => s.name === sweepMenu.value);
    const measure = () => index.measures.find((m) => m.key === measureMenu.value);

    function fillLayers() {
      const keep = layerMenu.value;
      layerMenu.replaceChildren(...Array.from({ length: sweep().depth }, (_, k) => option(k + 1, `layer ${k + 1}`)));
      if (keep && keep <= sweep().depth) layerMenu.value = keep;
      layerMenu.disabled = !measure().per_layer;
    }

    function fillRuns(data) {
      const keep = runsMenu.value;
      runsMenu.replaceChildren(option("", "all runs"));
      data.fields.filter((f) => f !== "seed").forEach((field) => {
        const values = [...new Set(data.runs.map((r) => r.settings[field]))];
        values.forEach((v) => runsMenu.appendChild(option(`${field}=${v}`, `${field} = ${v}`)));
      });
      runsMenu.value = [...runsMenu.options].some((o) => o.value === keep) ? keep : "";
      runsMenu.disabled = runsMenu.options.length === 1;
    }

    function draw(data) {
      const m = measure();
      const key = m.per_layer ? `${m.key}/${layerMenu.value}` : m.key;
      const [field, value] = runsMenu.value ? runsMenu.value.split("=") : [null, null];
      const shown = data.runs.filter((r) => r.series[key] && (!field || r.settings[field] === value));
      const legend = new Set();
      const traces = shown.map((r) => {
        const label = Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(", ") || "run";
        const first = !legend.has(r.rule);
        legend.add(r.rule);
        return {
          x: r.step.map((s) => s + 1), y: r.series[key], customdata: r.step, type: "scatter", mode: "lines",
          name: RULES[r.rule] || r.rule, legendgroup: r.rule, showlegend: first,
          line: { color: index.colors[r.rule], width: 1.5 }, opacity: 0.8,
          hovertemplate: `<b>${RULES[r.rule] || r.rule}</b> ${label}<br>step %{customdata}: %{y:.3f}<extra></extra>`,
        };
      });
      const narrow = box.clientWidth < 500;
      const layout = {
        height: narrow ? 400 : 460, margin: { l: 60, r: 12, t: 40, b: 60 }, font: { size: 14 },
        xaxis: { type: "log", dtick: 1, title: { text: "training step + 1 (log scale)" }, automargin: true },
        yaxis: { title: { text: m.label }, automargin: true },
        legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", title: { text: "rule " } },
        paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      };
      window.Plotly.react(plot, traces, layout, { responsive: true, displayModeBar: false });
      plot.setAttribute("aria-label", `${m.label} against the training step, ${shown.length} runs of ${sweep().name}`);
      const missing = data.runs.length - shown.length;
      status.textContent = `${shown.length} run${shown.length === 1 ? "" : "s"} shown` +
        (missing && !field && m.per_layer ? ` (${missing} more have no hidden layer ${layerMenu.value})` : "") +
        ". Hover or tap a line for its settings; click a rule in the legend to hide it.";
    }

    function update(newSweep) {
      const s = sweep();
      fillLayers();
      about.textContent = `${s.description} Rules: ${s.rules.map((r) => RULES[r] || r).join(", ")}.`;
      status.textContent = loaded[s.name] ? "" : `Loading the ${s.name} sweep…`;
      load(root, s.name, s.file).then((data) => {
        if (sweep().name !== s.name) return;  // the reader has moved on
        if (newSweep) fillRuns(data);
        draw(data);
        history.replaceState(null, "", `#${s.name}/${measureMenu.value}/${layerMenu.value}`);
      }, (err) => { status.textContent = `Could not load the data of ${s.name} (${err.message}).`; });
    }

    const [s0, m0, l0] = decodeURIComponent(location.hash.slice(1)).split("/");
    if (index.sweeps.some((s) => s.name === s0)) sweepMenu.value = s0;
    if (index.measures.some((m) => m.key === m0)) measureMenu.value = m0;
    fillLayers();
    if (l0 && l0 <= sweep().depth) layerMenu.value = l0;
    sweepMenu.addEventListener("change", () => update(true));
    [measureMenu, layerMenu, runsMenu].forEach((s) => s.addEventListener("change", () => update(false)));
    update(true);
  }

  function init() {
    document.querySelectorAll("div.dfa-explorer").forEach((box) => {
      const root = (document.documentElement.dataset.content_root || "") + box.dataset.src;
      box.replaceChildren(el("p", { class: "dfa-explorer-status", text: "Loading the list of sweeps…" }));
      load(root, "index", "index.js").then((index) => start(box, index),
        (err) => box.replaceChildren(el("p", { text: `Could not load the explorer's index (${err.message}).` })));
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
