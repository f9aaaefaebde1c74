/* Draws the instance's BPMN diagram with the bpmn-js viewer and marks its progress. */
(function () {
  "use strict";
  var container = document.getElementById("diagram");
  if (!container || typeof window.BpmnJS !== "function") {
    return;
  }

  function fail(error) {
    container.classList.add("diagram-failed");
    var note = document.createElement("p");
    note.className = "error";
    note.textContent = container.getAttribute("data-error-text") || "Diagram unavailable";
    container.appendChild(note);
    if (window.console) { window.console.warn(error); }
  }

  function mark(canvas, registry, ids, marker) {
    ids.forEach(function (id) {
      if (registry.get(id)) { canvas.addMarker(id, marker); }
    });
  }

  /* Sequence flows a token passed along, given by the page as [source id, target id] pairs
     (read from the engine's task tree, so a gateway's branch not taken stays unmarked). */
  function markFlows(canvas, registry, pairs) {
    var taken = {};
    pairs.forEach(function (pair) { taken[pair[0] + "\u0000" + pair[1]] = true; });
    registry.filter(function (element) { return element.type === "bpmn:SequenceFlow"; }).forEach(function (flow) {
      if (flow.source && flow.target && taken[flow.source.id + "\u0000" + flow.target.id]) {
        canvas.addMarker(flow.id, "kaohe-done");
      }
    });
  }

  /* A label under each waiting timer event: when it falls due (text built by the page). */
  function timerOverlays(viewer, registry, timers) {
    var overlays = viewer.get("overlays");
    var canvas = viewer.get("canvas");
    timers.forEach(function (timer) {
      var element = registry.get(timer.id);
      if (!element) { return; }
      canvas.addMarker(timer.id, "kaohe-timer");
      var label = document.createElement("div");
      label.className = "kaohe-timer-due";
      label.textContent = timer.text;
      overlays.add(timer.id, "kaohe-timer", { position: { bottom: -4, left: -20 }, html: label });
    });
  }

  /* The whole diagram if it stays readable; on a narrow screen, readable size around the current step
     (the navigated viewer lets a person drag to see the rest). */
  function fit(canvas, focus) {
    var size = canvas.getSize();
    if (!size.width || !size.height) { return; }  // not laid out yet: fitting would divide by zero
    canvas.zoom("fit-viewport", "auto");
    if (canvas.zoom() >= MIN_READABLE) { return; }
    canvas.zoom(MIN_READABLE);
    var box = canvas.viewbox();
    var target = focus || { x: box.inner.x, y: box.inner.y + box.inner.height / 2, width: 0, height: 0 };
    canvas.viewbox({
      x: focus ? target.x + target.width / 2 - box.width / 2 : target.x - 20,
      y: target.y + target.height / 2 - box.height / 2,
      width: box.width,
      height: box.height
    });
  }

  var MIN_READABLE = 0.7;
  var viewer = new window.BpmnJS({ container: container });
  fetch(container.getAttribute("data-src"), { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.text();
    })
    .then(function (xml) { return viewer.importXML(xml); })
    .then(function () {
      var canvas = viewer.get("canvas");
      var registry = viewer.get("elementRegistry");
      var active = JSON.parse(container.getAttribute("data-active") || "[]");
      mark(canvas, registry, JSON.parse(container.getAttribute("data-completed") || "[]"), "kaohe-done");
      mark(canvas, registry, active, "kaohe-active");
      markFlows(canvas, registry, JSON.parse(container.getAttribute("data-flows") || "[]"));
      timerOverlays(viewer, registry, JSON.parse(container.getAttribute("data-timers") || "[]"));
      mark(canvas, registry, JSON.parse(container.getAttribute("data-error-elements") || "[]"), "kaohe-error");
      /* The task page's mode: data-current names the one element this task is, marked and kept in view. */
      var current = container.getAttribute("data-current");
      if (current) { mark(canvas, registry, [current], "kaohe-current"); }
      var focus = current || active[0];
      fit(canvas, registry.get(focus));
      container.classList.add("diagram-ready");
      window.addEventListener("resize", function () { canvas.resized(); fit(canvas, registry.get(focus)); });
    })
    .catch(fail);
}());
