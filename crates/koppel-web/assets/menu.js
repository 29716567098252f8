// Action menus (<details class="menu">) by keyboard: Escape closes the open menu and puts focus back
// on its button; arrow keys move through the items; opening one menu closes the others, and a click
// elsewhere closes it. Without this script a menu still opens and closes as a plain <details>.
(function () {
  "use strict";
  var menus = Array.prototype.slice.call(document.querySelectorAll("details.menu"));
  function items(menu) {
    return Array.prototype.slice.call(menu.querySelectorAll(".menu-items a, .menu-items button"));
  }
  function close(menu, focusSummary) {
    if (!menu.open) { return; }
    menu.open = false;
    if (focusSummary) { menu.querySelector("summary").focus(); }
  }
  menus.forEach(function (menu) {
    var summary = menu.querySelector("summary");
    menu.addEventListener("toggle", function () {
      if (!menu.open) { return; }
      menus.forEach(function (other) { if (other !== menu) { close(other, false); } });
    });
    menu.addEventListener("keydown", function (event) {
      var list = items(menu);
      var at = list.indexOf(document.activeElement);
      if (event.key === "Escape" || event.key === "Esc") {
        if (menu.open) { event.preventDefault(); close(menu, true); }
      } else if (event.key === "ArrowDown" && list.length) {
        event.preventDefault();
        if (!menu.open) { menu.open = true; }
        list[(at + 1) % list.length].focus();
      } else if (event.key === "ArrowUp" && list.length) {
        event.preventDefault();
        if (!menu.open) { menu.open = true; }
        list[at <= 0 ? list.length - 1 : at - 1].focus();
      } else if (event.key === "Tab" && menu.open && at === list.length - 1 && !event.shiftKey) {
        // Leaving the menu forwards closes it, as a menu does.
        menu.open = false;
      }
    });
    summary.addEventListener("keydown", function (event) {
      // Enter and Space toggle a <details> natively; nothing to add.
      if (event.key === "Escape" && menu.open) { event.preventDefault(); close(menu, true); }
    });
  });
  document.addEventListener("click", function (event) {
    menus.forEach(function (menu) { if (!menu.contains(event.target)) { close(menu, false); } });
  });
})();
