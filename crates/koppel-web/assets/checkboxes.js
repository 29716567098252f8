// "All" / "None" buttons for a group of checkboxes: data-check names the group's input name.
(function () {
  "use strict";
  document.querySelectorAll("button[data-check]").forEach(function (button) {
    button.addEventListener("click", function () {
      var on = button.dataset.value === "all";
      document.querySelectorAll("input[type=checkbox][name='" + button.dataset.check + "']").forEach(function (box) {
        box.checked = on;
      });
    });
  });
})();
