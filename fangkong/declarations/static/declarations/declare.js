/* The public declaration form: place pickers (province → city → county), destination township → village,
   and add/remove rows of travel stops and companions. Plain JS, no library; the form posts without it. */
(function () {
  "use strict";
  var form = document.querySelector("[data-declaration-form]");
  if (!form) { return; }
  var treePromise = null;

  function loadTree() {
    if (!treePromise) {
      treePromise = fetch(form.dataset.placesUrl, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : []; })
        .catch(function () { return []; });
    }
    return treePromise;
  }

  function option(value, label) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    return o;
  }

  function fill(select, items, prompt) {
    select.replaceChildren(option("", prompt));
    (items || []).forEach(function (item) { select.appendChild(option(item[0], item[1])); });
    select.disabled = !items || items.length === 0;
  }

  function findPath(tree, code) {
    if (!code) { return []; }
    for (var i = 0; i < tree.length; i++) {
      var p = tree[i];
      if (p[0] === code) { return [p]; }
      for (var j = 0; j < p[2].length; j++) {
        var c = p[2][j];
        if (c[0] === code && c[2].length === 0) { return [p, c]; }
        for (var k = 0; k < c[2].length; k++) {
          if (c[2][k][0] === code) { return [p, c, c[2][k]]; }
        }
      }
    }
    return [];
  }

  function setupPicker(box) {
    var input = document.getElementById(box.dataset.placeFor);
    if (!input || box.dataset.ready) { return; }
    box.dataset.ready = "1";
    var names = ["省（自治区、直辖市）", "市（州）", "区（县）"];
    var selects = names.map(function (label) {
      var s = document.createElement("select");
      s.className = "form-select";
      s.setAttribute("aria-label", label);
      box.appendChild(s);
      return s;
    });
    var province = selects[0], city = selects[1], county = selects[2];
    loadTree().then(function (tree) {
      fill(province, tree, "请选择省份");
      fill(city, [], "请选择城市");
      fill(county, [], "请选择区县");
      var byCode = function (items, code) { return (items || []).filter(function (x) { return x[0] === code; })[0]; };
      function update() {
        var p = byCode(tree, province.value);
        var c = p ? byCode(p[2], city.value) : null;
        // Down to the county; a city with no counties under it counts by itself.
        input.value = county.value || (c && c[2].length === 0 ? c[0] : "");
      }
      province.addEventListener("change", function () {
        var p = byCode(tree, province.value);
        fill(city, p ? p[2] : [], "请选择城市");
        fill(county, [], "请选择区县");
        update();
      });
      city.addEventListener("change", function () {
        var p = byCode(tree, province.value);
        var c = p ? byCode(p[2], city.value) : null;
        fill(county, c ? c[2] : [], "请选择区县");
        update();
      });
      county.addEventListener("change", update);
      var path = findPath(tree, input.value);
      if (path[0]) { province.value = path[0][0]; fill(city, path[0][2], "请选择城市"); }
      if (path[1]) { city.value = path[1][0]; fill(county, path[1][2], "请选择区县"); }
      if (path[2]) { county.value = path[2][0]; }
    });
  }

  function setupPickers(root) {
    root.querySelectorAll("[data-place-for]").forEach(setupPicker);
  }

  // Rows: a Django formset; names are prefix-N-field, TOTAL_FORMS counts them.
  function renumber(prefix) {
    var rows = form.querySelectorAll('[data-rows="' + prefix + '"] > [data-row]');
    var pattern = new RegExp("^(id_)?" + prefix + "-(\\d+|__prefix__)-");
    rows.forEach(function (row, index) {
      row.querySelectorAll("[name], [id], [for], [data-place-for], [aria-labelledby]").forEach(function (el) {
        ["name", "id", "for", "data-place-for", "aria-labelledby"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value && pattern.test(value)) {
            el.setAttribute(attr, value.replace(pattern, "$1" + prefix + "-" + index + "-"));
          }
        });
      });
      var number = row.querySelector("[data-row-number]");
      if (number) { number.textContent = index + 1; }
    });
    var total = form.querySelector('[name="' + prefix + '-TOTAL_FORMS"]');
    if (total) { total.value = rows.length; }
    var max = form.querySelector('[name="' + prefix + '-MAX_NUM_FORMS"]');
    var add = form.querySelector('[data-add-row="' + prefix + '"]');
    if (add && max) { add.disabled = rows.length >= parseInt(max.value, 10); }
  }

  form.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var prefix = add.dataset.addRow;
      var template = form.querySelector('[data-row-template="' + prefix + '"]');
      var holder = form.querySelector('[data-rows="' + prefix + '"]');
      var row = template.content.firstElementChild.cloneNode(true);
      holder.appendChild(row);
      renumber(prefix);
      setupPickers(row);
      var first = row.querySelector("select, input:not([type=hidden])");
      if (first) { first.focus(); }
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var holderOf = remove.closest("[data-rows]");
      remove.closest("[data-row]").remove();
      renumber(holderOf.dataset.rows);
    }
  });

  // Destination: a township select in front of the grouped village select, which keeps working without it.
  var village = form.querySelector('select[name="area"]');
  if (village) {
    var groups = Array.prototype.map.call(village.querySelectorAll("optgroup"), function (g) {
      return { label: g.label, options: Array.prototype.map.call(g.children, function (o) { return [o.value, o.textContent]; }) };
    });
    var township = document.createElement("select");
    township.className = "form-select mb-2";
    township.setAttribute("aria-label", "乡镇（街道）");
    township.appendChild(option("", "请选择乡镇（街道）"));
    groups.forEach(function (g, i) { township.appendChild(option(String(i), g.label)); });
    village.parentNode.insertBefore(township, village);
    var chosen = village.value;
    function showVillages() {
      var g = groups[parseInt(township.value, 10)];
      fill(village, g ? g.options : [], "请选择村（社区）");
    }
    township.addEventListener("change", showVillages);
    // The grid select lists only the grids of the chosen village (a grid's code starts with its village's).
    var grid = form.querySelector('select[name="grid"]');
    var grids = grid ? Array.prototype.map.call(grid.options, function (o) { return [o.value, o.textContent]; }) : [];
    function showGrids() {
      if (!grid) { return; }
      var keep = grid.value;
      var mine = grids.filter(function (o) { return o[0] && village.value && o[0].indexOf(village.value) === 0; })
        .map(function (o) { return [o[0], o[1].split(" · ").pop()]; });
      fill(grid, mine, grids[0][1]);
      grid.value = mine.some(function (o) { return o[0] === keep; }) ? keep : "";
      var block = grid.closest(".mb-3");
      if (block) { block.hidden = !mine.length; }
    }
    village.addEventListener("change", showGrids);
    township.addEventListener("change", showGrids);
    groups.forEach(function (g, i) {
      if (g.options.some(function (o) { return o[0] === chosen; })) { township.value = String(i); }
    });
    showVillages();
    village.value = chosen;
    showGrids();
  }

  ["stops", "companions"].forEach(renumber);
  setupPickers(form);
})();
