// The region picker loads each level as the citizen chooses the one above it, from
// /api/v1/regions?parent=<code>; and "use my location" fills the hidden lat/lon fields. Without
// this script the form works too: the "next level" button posts the form back.
"use strict";
(function () {
  var levels = ["provinsi", "kabkota", "kecamatan", "desa"];
  var labels = { provinsi: "Provinsi", kabkota: "Kabupaten/kota", kecamatan: "Kecamatan", desa: "Desa/kelurahan" };
  var picker = document.querySelector("[data-pemilih]");
  if (!picker) return;
  var step = document.querySelector("[data-tanpa-skrip]");
  if (step) step.hidden = true;

  function selectFor(level) { return picker.querySelector('select[data-tingkat="' + level + '"]'); }

  function removeBelow(index) {
    for (var i = index + 1; i < levels.length; i++) {
      var select = selectFor(levels[i]);
      if (select) select.parentNode.remove();
    }
  }

  function addLevel(index, items) {
    var level = levels[index];
    var box = document.createElement("div");
    box.className = "isian";
    var label = document.createElement("label");
    label.htmlFor = "f-" + level;
    label.textContent = labels[level];
    var select = document.createElement("select");
    select.id = "f-" + level;
    select.name = level;
    select.setAttribute("data-tingkat", level);
    var empty = document.createElement("option");
    empty.value = "";
    empty.textContent = "— pilih " + labels[level].toLowerCase() + " —";
    select.appendChild(empty);
    items.forEach(function (item) {
      var option = document.createElement("option");
      option.value = item.code;
      option.textContent = item.name;
      select.appendChild(option);
    });
    box.appendChild(label);
    box.appendChild(select);
    picker.appendChild(box);
    addSearch(select);
  }

  // A search box above each level's list: typing narrows the choices (the desa of a kecamatan can
  // be a hundred names).
  function addSearch(select) {
    var level = select.getAttribute("data-tingkat");
    var box = document.createElement("input");
    box.type = "search";
    box.id = "cari-" + level;
    box.className = "cari";
    box.setAttribute("aria-label", "Cari " + labels[level].toLowerCase());
    box.setAttribute("aria-controls", select.id);
    box.placeholder = "Cari " + labels[level].toLowerCase() + "…";
    box.addEventListener("input", function () {
      var needle = box.value.trim().toLowerCase();
      Array.prototype.forEach.call(select.options, function (option) {
        option.hidden = option.value !== "" && needle !== "" && option.textContent.toLowerCase().indexOf(needle) < 0;
      });
    });
    select.parentNode.insertBefore(box, select);
  }
  Array.prototype.forEach.call(picker.querySelectorAll("select[data-tingkat]"), addSearch);

  picker.addEventListener("change", function (event) {
    var select = event.target;
    var index = levels.indexOf(select.getAttribute("data-tingkat"));
    if (index < 0) return;
    removeBelow(index);
    if (!select.value || index + 1 >= levels.length) return;
    fetch("/api/v1/regions?parent=" + encodeURIComponent(select.value), { headers: { Accept: "application/json" } })
      .then(function (answer) { return answer.ok ? answer.json() : { items: [] }; })
      .then(function (body) {
        if (body.items.length && selectFor(levels[index]) && selectFor(levels[index]).value === select.value) {
          addLevel(index + 1, body.items);
        }
      })
      .catch(function () { if (step) step.hidden = false; });
  });

  var where = document.querySelector("[data-lokasi]");
  if (where && navigator.geolocation) {
    where.hidden = false;
    var status = where.querySelector("[data-lokasi-status]");
    where.querySelector("[data-ambil-lokasi]").addEventListener("click", function () {
      status.textContent = "Mencari lokasi…";
      navigator.geolocation.getCurrentPosition(function (position) {
        document.getElementById("f-lat").value = position.coords.latitude.toFixed(6);
        document.getElementById("f-lon").value = position.coords.longitude.toFixed(6);
        status.textContent = "Lokasi tersimpan.";
      }, function () { status.textContent = "Lokasi tidak dapat diambil; isi alamat saja."; });
    });
  }

  var summary = document.getElementById("galat");
  if (summary) summary.focus();
})();
