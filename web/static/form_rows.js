/* Array-of-object fields (e.g. the achievement declaration's items): show the filled rows and one
   empty row, and reveal one more with "添加一项" up to the form's limit. Without this script every
   row is visible, and empty ones are simply not submitted. */
(function () {
  "use strict";

  function filled(row) {
    var inputs = row.querySelectorAll("input, select, textarea");
    for (var i = 0; i < inputs.length; i += 1) {
      var input = inputs[i];
      if (input.type === "checkbox" ? input.checked : input.value.trim() !== "") { return true; }
    }
    return row.querySelector(".error") !== null;
  }

  function setUp(group) {
    if (group.getAttribute("data-fixed")) { return; }
    var rows = Array.prototype.slice.call(group.querySelectorAll(".item-row"));
    var button = group.querySelector(".add-row");
    if (!button || rows.length === 0) { return; }
    var shown = parseInt(group.getAttribute("data-shown") || "1", 10);
    rows.forEach(function (row, index) {
      if (index >= shown && !filled(row)) { row.hidden = true; }
    });

    function refresh() {
      button.hidden = !rows.some(function (row) { return row.hidden; });
    }

    button.addEventListener("click", function () {
      var next = rows.filter(function (row) { return row.hidden; })[0];
      if (!next) { return; }
      next.hidden = false;
      var first = next.querySelector("input, select, textarea");
      if (first) { first.focus(); }
      refresh();
    });
    refresh();
  }

  Array.prototype.forEach.call(document.querySelectorAll(".field-rows"), setUp);
}());
