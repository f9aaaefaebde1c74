/* The properties panel: what kaohe reads from a diagram element (name, lane, form file, instructions,
   startableBy, timer, script, condition, called decision, service operator and its parameters).
   SpiffWorkflow's extension elements are kept by bpmn-js as generic ("any") moddle elements;
   this panel reads and writes them in place, creating them with moddle.createAny when missing. */
(function () {
  "use strict";
  var SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core";
  var FORM = "formJsonSchemaFilename";

  function isSpiff(node, local) {
    if (!node) { return false; }
    var ns = node.$descriptor && node.$descriptor.ns;
    if (ns && ns.uri) { return ns.uri === SPIFF && ns.localName === local; }
    return String(node.$type || "").split(":").pop() === local;
  }
  function values(bo) { return (bo.extensionElements && bo.extensionElements.values) || []; }
  function ext(bo, local) { return values(bo).filter(function (v) { return isSpiff(v, local); })[0]; }
  function kids(node, local) {
    return ((node && node.$children) || []).filter(function (c) { return isSpiff(c, local); });
  }
  function property(bo, name) {
    var found = kids(ext(bo, "properties"), "property").filter(function (p) { return p.name === name; })[0];
    return found ? (found.value || "") : "";
  }
  function body(bo, local) { var node = ext(bo, local); return node ? (node.$body || "") : ""; }
  function timerOf(bo) {
    return (bo.eventDefinitions || []).filter(function (d) { return d.$instanceOf("bpmn:TimerEventDefinition"); })[0];
  }

  function Panel(modeler, options) {
    this.modeler = modeler;
    this.moddle = modeler.get("moddle");
    this.modeling = modeler.get("modeling");
    this.registry = modeler.get("elementRegistry");
    this.options = options || {};
    this.form = document.getElementById("p-form");
    this.element = null;
    var self = this;
    modeler.get("eventBus").on("selection.changed", function (event) {
      self.show(event.newSelection.length === 1 ? event.newSelection[0] : null);
    });
    modeler.get("eventBus").on("commandStack.changed", function () {
      if (self.element && !self.form.contains(document.activeElement)) { self.show(self.element); }
    });
    this.form.addEventListener("change", function (event) { self.changed(event.target); });
    this.form.addEventListener("submit", function (event) { event.preventDefault(); });
    document.getElementById("p-param-add").addEventListener("click", function () {
      self.addParamRow({ id: "", type: "str", value: "" });
    });
    document.getElementById("p-params").addEventListener("click", function (event) {
      if (event.target.hasAttribute("data-param-remove")) {
        event.target.closest("tr").remove();
        self.writeParams();
      }
    });
  }

  Panel.prototype.groups = function (element) {
    var bo = element.businessObject;
    var is = function (type) { return bo.$instanceOf(type); };
    return {
      "lane": is("bpmn:Lane"),
      "lane-of": !!this.laneOf(bo),
      "form": is("bpmn:UserTask") || is("bpmn:ManualTask"),
      "start": is("bpmn:StartEvent"),
      "timer": !!timerOf(bo),
      "script": is("bpmn:ScriptTask"),
      "condition": is("bpmn:SequenceFlow"),
      "decision": is("bpmn:BusinessRuleTask"),
      "service": is("bpmn:ServiceTask"),
      "task": is("bpmn:Task")
    };
  };

  Panel.prototype.laneOf = function (bo) {
    var lane = this.registry.filter(function (e) {
      return e.businessObject.$instanceOf("bpmn:Lane") && (e.businessObject.flowNodeRef || []).indexOf(bo) !== -1;
    })[0];
    return lane ? lane.businessObject : null;
  };

  Panel.prototype.show = function (element) {
    this.element = element && element.type !== "label" ? element : (element && element.labelTarget) || null;
    var none = document.getElementById("p-none");
    if (!this.element || this.element.type === "bpmn:Process" || this.element.type === "bpmn:Collaboration") {
      this.form.hidden = true; none.hidden = false; this.element = null;
      return;
    }
    none.hidden = true; this.form.hidden = false;
    var bo = this.element.businessObject, groups = this.groups(this.element);
    Array.prototype.forEach.call(this.form.querySelectorAll("[data-group]"), function (node) {
      node.hidden = !groups[node.getAttribute("data-group")];
    });
    var lane = this.laneOf(bo), timer = timerOf(bo);
    var timerKind = timer ? (["timeDuration", "timeDate", "timeCycle"].filter(function (k) { return timer[k]; })[0] || "timeDuration") : "timeDuration";
    var operator = ext(bo, "serviceTaskOperator");
    document.getElementById("p-id").textContent = bo.id;
    document.getElementById("p-type").textContent = bo.$type;
    document.getElementById("p-lane").textContent = lane ? lane.name || lane.id : "";
    this.set("p-name", bo.name || "");
    this.set("p-form-file", property(bo, FORM));
    this.set("p-instructions", body(bo, "instructionsForEndUser"));
    this.set("p-startable", property(bo, "startableBy"));
    this.set("p-timer-kind", timerKind);
    this.set("p-timer", timer && timer[timerKind] ? timer[timerKind].body || "" : "");
    this.set("p-script", bo.script || "");
    this.set("p-condition", bo.conditionExpression ? bo.conditionExpression.body || "" : "");
    this.set("p-decision", body(bo, "calledDecisionId"));
    this.set("p-operator", operator ? operator.id || "" : "");
    this.set("p-result", operator ? operator.resultVariable || "" : "");
    this.set("p-pre", body(bo, "preScript"));
    this.set("p-post", body(bo, "postScript"));
    var rows = document.getElementById("p-params");
    rows.textContent = "";
    var self = this;
    kids(kids(operator, "parameters")[0], "parameter").forEach(function (p) { self.addParamRow(p); });
    var list = document.getElementById("p-form-files");
    list.textContent = "";
    (this.options.formNames ? this.options.formNames() : []).forEach(function (name) {
      var option = document.createElement("option");
      option.value = name;
      list.appendChild(option);
    });
  };

  Panel.prototype.set = function (id, value) { document.getElementById(id).value = value; };

  Panel.prototype.addParamRow = function (param) {
    var row = document.getElementById("p-param-row").content.firstElementChild.cloneNode(true);
    ["id", "type", "value"].forEach(function (key) { row.querySelector('[data-param="' + key + '"]').value = param[key] || ""; });
    document.getElementById("p-params").appendChild(row);
  };

  /* --- writing ------------------------------------------------------------------------------ */

  Panel.prototype.extensions = function (bo) {
    if (!bo.extensionElements) {
      var container = this.moddle.create("bpmn:ExtensionElements", { values: [] });
      container.$parent = bo;
      bo.extensionElements = container;
    }
    if (!bo.extensionElements.values) { bo.extensionElements.values = []; }
    return bo.extensionElements;
  };

  Panel.prototype.ensure = function (bo, local) {
    var found = ext(bo, local);
    if (found) { return found; }
    var container = this.extensions(bo);
    var node = this.moddle.createAny("spiffworkflow:" + local, SPIFF, {});
    node.$parent = container;
    container.values.push(node);
    return node;
  };

  Panel.prototype.drop = function (bo, local) {
    var node = ext(bo, local);
    if (node) { bo.extensionElements.values.splice(bo.extensionElements.values.indexOf(node), 1); }
  };

  Panel.prototype.setBody = function (bo, local, value) {
    if (!value) { this.drop(bo, local); return; }
    this.ensure(bo, local).$body = value;
  };

  Panel.prototype.setProperty = function (bo, name, value) {
    var props = ext(bo, "properties");
    if (!props && !value) { return; }
    props = props || this.ensure(bo, "properties");
    props.$children = props.$children || [];
    var found = kids(props, "property").filter(function (p) { return p.name === name; })[0];
    if (!value) {
      if (found) { props.$children.splice(props.$children.indexOf(found), 1); }
      if (!props.$children.length) { this.drop(bo, "properties"); }
      return;
    }
    if (found) { found.value = value; return; }
    var node = this.moddle.createAny("spiffworkflow:property", SPIFF, { name: name, value: value });
    node.$parent = props;
    props.$children.push(node);
  };

  Panel.prototype.writeParams = function () {
    var bo = this.element.businessObject, operator = this.ensure(bo, "serviceTaskOperator");
    operator.$children = operator.$children || [];
    var params = kids(operator, "parameters")[0];
    if (!params) {
      params = this.moddle.createAny("spiffworkflow:parameters", SPIFF, {});
      params.$parent = operator;
      operator.$children.push(params);
    }
    var moddle = this.moddle;
    params.$children = Array.prototype.map.call(document.querySelectorAll("#p-params tr"), function (row) {
      var read = function (key) { return row.querySelector('[data-param="' + key + '"]').value.trim(); };
      var node = moddle.createAny("spiffworkflow:parameter", SPIFF, { id: read("id"), type: read("type") || "str", value: read("value") });
      node.$parent = params;
      return node;
    }).filter(function (node) { return node.id; });
    this.touched();
  };

  Panel.prototype.setTimer = function (bo) {
    var timer = timerOf(bo), kind = document.getElementById("p-timer-kind").value;
    var text = document.getElementById("p-timer").value;
    var update = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
    update[kind] = text ? this.moddle.create("bpmn:FormalExpression", { body: text }) : undefined;
    this.modeling.updateModdleProperties(this.element, timer, update);
  };

  Panel.prototype.changed = function (input) {
    if (!this.element || this.options.readOnly) { return; }
    if (input.hasAttribute("data-param")) { this.writeParams(); return; }
    var bo = this.element.businessObject, value = input.value, prop = input.getAttribute("data-prop");
    switch (prop) {
      case "name": this.modeling.updateLabel(this.element, value); return;
      case "form": this.setProperty(bo, FORM, value.trim()); break;
      case "startableBy": this.setProperty(bo, "startableBy", value.trim()); break;
      case "instructions": this.setBody(bo, "instructionsForEndUser", value); break;
      case "preScript": this.setBody(bo, "preScript", value); break;
      case "postScript": this.setBody(bo, "postScript", value); break;
      case "decision": this.setBody(bo, "calledDecisionId", value.trim()); break;
      case "timerKind": case "timer": this.setTimer(bo); return;
      case "script": this.modeling.updateProperties(this.element, { script: value || undefined }); return;
      case "condition":
        this.modeling.updateProperties(this.element, {
          conditionExpression: value ? this.moddle.create("bpmn:FormalExpression", { body: value }) : undefined
        });
        return;
      case "operator": this.ensure(bo, "serviceTaskOperator").id = value.trim(); break;
      case "resultVariable":
        // A generic element writes every own property as an attribute: remove it rather than leave it undefined.
        if (value.trim()) { this.ensure(bo, "serviceTaskOperator").resultVariable = value.trim(); }
        else if (ext(bo, "serviceTaskOperator")) { delete ext(bo, "serviceTaskOperator").resultVariable; }
        break;
      default: return;
    }
    this.touched();
  };

  /* Extension edits bypass the command stack; tell the page there is something to deploy. */
  Panel.prototype.touched = function () {
    if (this.options.onChange) { this.options.onChange(this.element); }
  };

  window.KaohePanel = Panel;
}());
