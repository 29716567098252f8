// The app shell's small behaviours; every page works without them.
// - marks the document as scripted (the stylesheet then hides the buttons the script replaces);
// - menus (<details class="menu">, items in a .menu-items list) close on Escape (focus back on their
//   button), on a click outside and when another menu opens; arrow keys move through the items;
// - on narrow screens the side menu opens from the top bar's menu button.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function ready() {
    var menus = Array.prototype.slice.call(document.querySelectorAll("details.menu"));
    function items(menu) {
      return Array.prototype.slice.call(menu.querySelectorAll(".menu-items a, .menu-items button"));
    }
    function close(menu, focusSummary) {
      if (!menu.open) return;
      menu.open = false;
      var summary = menu.querySelector("summary");
      if (focusSummary && summary) summary.focus();
    }
    menus.forEach(function (menu) {
      menu.addEventListener("toggle", function () {
        if (!menu.open) return;
        menus.forEach(function (other) {
          if (other !== menu) close(other, false);
        });
      });
      // Arrow keys move through the items; Tab past the last item leaves and closes the menu.
      menu.addEventListener("keydown", function (event) {
        var list = items(menu);
        var at = list.indexOf(document.activeElement);
        if (event.key === "ArrowDown" && list.length) {
          event.preventDefault();
          menu.open = true;
          list[(at + 1) % list.length].focus();
        } else if (event.key === "ArrowUp" && list.length) {
          event.preventDefault();
          menu.open = true;
          list[at <= 0 ? list.length - 1 : at - 1].focus();
        } else if (event.key === "Tab" && menu.open && at === list.length - 1 && !event.shiftKey) {
          menu.open = false;
        }
      });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" && event.key !== "Esc") return;
      menus.forEach(function (menu) {
        if (menu.open) {
          event.preventDefault();
          close(menu, menu.contains(document.activeElement) || document.activeElement === document.body);
        }
      });
    });
    document.addEventListener("click", function (event) {
      menus.forEach(function (menu) {
        if (!menu.contains(event.target)) close(menu, false);
      });
    });

    var toggle = document.getElementById("nav-toggle");
    var nav = document.getElementById("side-nav");
    if (toggle && nav) {
      toggle.hidden = false;
      toggle.addEventListener("click", function () {
        var open = nav.classList.toggle("open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
