/* The BPMN editor page: the bpmn-js modeler, the properties panel, validate (problems marked on their
   elements), deploy, download, and the diagram's JSON Schema forms edited and previewed beside it. */
(function () {
  "use strict";
  var root = document.getElementById("editor");
  if (!root || typeof window.BpmnJS !== "function") { return; }
  var K = window.KaoheEditor, t = K.texts(root), csrf = root.getAttribute("data-csrf");
  var canEdit = root.getAttribute("data-can-edit") === "true";
  var modeler = new window.BpmnJS({ container: document.getElementById("modeler") });
  var state = { bpmnName: "", forms: {}, form: null };
  window.kaoheModeler = modeler;  // for people scripting the page (and the browser tests)

  var formSelect = document.getElementById("form-select");
  var formText = document.getElementById("form-text");
  var formMessages = document.getElementById("form-messages");

  function formNames() { return Object.keys(state.forms).sort(); }

  /* --- problems on the diagram ------------------------------------------------------------ */
  function clearMarks() {
    var canvas = modeler.get("canvas");
    modeler.get("elementRegistry").forEach(function (element) { canvas.removeMarker(element, "kaohe-problem"); });
    modeler.get("overlays").remove({ type: "kaohe-problem" });
    K.showProblems([]);
  }

  /* The shape that shows a problem's element: itself, or the pool of a process, or the event of a
     timer definition (neither has a shape of its own). */
  function shapeFor(registry, id) {
    if (!id) { return null; }
    return registry.get(id) || registry.find(function (element) {
      var bo = element.businessObject || {};
      return (bo.processRef && bo.processRef.id === id) ||
        (bo.eventDefinitions || []).some(function (definition) { return definition.id === id; });
    }) || null;
  }

  function mark(problems) {
    var canvas = modeler.get("canvas"), registry = modeler.get("elementRegistry"), overlays = modeler.get("overlays");
    var seen = {};
    problems.forEach(function (problem) {
      var element = shapeFor(registry, problem.element);
      if (!element) { return; }
      canvas.addMarker(element, "kaohe-problem");
      var note = document.createElement("div");
      note.className = "kaohe-problem-note";
      note.setAttribute("data-element", problem.element);
      note.textContent = problem.message;
      note.title = problem.message;
      overlays.add(element, "kaohe-problem", { position: { top: -8 - 22 * (seen[element.id] || 0), left: 0 }, html: note });
      seen[element.id] = (seen[element.id] || 0) + 1;
    });
    K.showProblems(problems, function (problem) {
      var element = shapeFor(registry, problem.element);
      if (element) { modeler.get("selection").select(element); canvas.scrollToElement(element); }
    });
  }

  /* --- the files to send ------------------------------------------------------------------- */
  function keepForm() { if (state.form) { state.forms[state.form] = formText.value; } }

  function files() {
    keepForm();
    return modeler.saveXML({ format: true }).then(function (result) {
      var list = [{ name: state.bpmnName, content: result.xml }];
      formNames().forEach(function (name) { list.push({ name: name, content: state.forms[name] }); });
      return list;
    });
  }

  function send(url, busyText) {
    clearMarks();
    K.setStatus(busyText, "busy");
    return files().then(function (list) { return K.postJSON(url, { files: list }, csrf); });
  }

  function validate() {
    send(root.getAttribute("data-check"), t.checking).then(function (answer) {
      if (!answer.data) { K.setStatus(K.failure(t, answer), "bad"); return; }
      if (answer.data.ok) { K.setStatus(t.valid, "ok"); return; }
      K.setStatus(t.invalid, "bad");
      mark(answer.data.problems);
    }).catch(function (error) { K.setStatus(t.failed + " " + error, "bad"); });
  }

  function deploy() {
    send(root.getAttribute("data-deploy"), t.deploying).then(function (answer) {
      if (!answer.data) { K.setStatus(K.failure(t, answer), "bad"); return; }
      if (!answer.data.ok) { K.setStatus(t.invalid, "bad"); mark(answer.data.problems); return; }
      var mine = answer.data.results.filter(function (r) { return r.kind === "process"; });
      K.setStatus(K.deployedText(t, answer.data.results), "ok");
      var status = document.getElementById("editor-status");
      if (mine.length) {
        root.setAttribute("data-deployed-version", mine[0].version);
        var link = document.createElement("a");
        link.href = mine[0].history;
        link.textContent = " →";
        link.className = "history-link";
        status.appendChild(link);
      }
    }).catch(function (error) { K.setStatus(t.failed + " " + error, "bad"); });
  }

  function download() {
    modeler.saveXML({ format: true }).then(function (result) { K.download(state.bpmnName, result.xml, "application/xml"); });
  }

  /* --- forms ----------------------------------------------------------------------------------- */
  function showForm(name) {
    keepForm();
    state.form = name || null;
    formText.value = name ? state.forms[name] : "";
    formText.disabled = !name || !canEdit;
    formMessages.textContent = "";
    document.getElementById("form-preview").textContent = "";
    if (name && formSelect.value !== name) { formSelect.value = name; }
  }

  function quickCheck() {
    try { JSON.parse(formText.value); formMessages.textContent = ""; formMessages.className = "help"; }
    catch (error) { formMessages.textContent = String(error.message || error); formMessages.className = "error"; }
  }

  function preview() {
    keepForm();
    K.postJSON(root.getAttribute("data-preview"), { content: formText.value }, csrf).then(function (answer) {
      var box = document.getElementById("form-preview");
      if (!answer.data) { formMessages.textContent = K.failure(t, answer); return; }
      formMessages.className = answer.data.ok ? "help ok" : "error";
      formMessages.textContent = answer.data.ok ? t.formValid : answer.data.problems.join("；");
      box.innerHTML = answer.data.html;  // drawn and escaped by the server's form template
    });
  }

  function newForm() {
    var input = document.getElementById("form-new-name");
    var name = input.value.trim().replace(/^.*[\\/]/, "");
    if (!name) { return; }
    if (!/\.json$/i.test(name)) { name += ".json"; }
    if (!state.forms[name]) {
      state.forms[name] = JSON.stringify({ title: "", type: "object", properties: {}, required: [] }, null, 2) + "\n";
      var option = document.createElement("option");
      option.value = name; option.textContent = name;
      formSelect.appendChild(option);
    }
    input.value = "";
    showForm(name);
  }

  /* The whole diagram, moved right of the tool palette that floats over the canvas's left edge. */
  function fit() {
    var canvas = modeler.get("canvas");
    canvas.zoom("fit-viewport", "auto");
    var box = canvas.viewbox(), palette = 110 / box.scale;
    canvas.viewbox({ x: box.x - palette, y: box.y, width: box.width + palette, height: box.height + palette * box.height / box.width });
  }

  function wire() {
    if (canEdit) {
      document.getElementById("btn-check").addEventListener("click", validate);
      document.getElementById("btn-deploy").addEventListener("click", deploy);
    }
    document.getElementById("btn-download").addEventListener("click", download);
    formSelect.addEventListener("change", function () { showForm(formSelect.value); });
    formText.addEventListener("input", quickCheck);
    document.getElementById("btn-form-preview").addEventListener("click", preview);
    document.getElementById("btn-form-new").addEventListener("click", newForm);
    document.getElementById("form-new-name").disabled = !canEdit;
    document.getElementById("btn-form-new").disabled = !canEdit;
    modeler.get("eventBus").on("commandStack.changed", function () { K.setStatus(t.unsaved, "busy"); });
    window.addEventListener("resize", function () { modeler.get("canvas").resized(); fit(); });
  }

  fetch(root.getAttribute("data-source"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    })
    .then(function (source) {
      state.bpmnName = source.bpmn_name;
      state.forms = source.forms || {};
      return modeler.importXML(source.bpmn);
    })
    .then(function () {
      fit();
      new window.KaohePanel(modeler, {
        formNames: formNames, readOnly: !canEdit,
        onChange: function () { K.setStatus(t.unsaved, "busy"); }
      });
      wire();
      showForm(formNames()[0]);
      root.classList.add("editor-ready");
    })
    .catch(function (error) {
      K.setStatus(t.loadFailed + " " + error, "bad");
      if (window.console) { window.console.warn(error); }
    });
}());
