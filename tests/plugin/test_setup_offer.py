"""First load in the desktop without a backend: the message bar offers 'Set up backend'."""

from __future__ import annotations

import sys

import pytest
from qgis.core import Qgis
from qgis.PyQt.QtWidgets import QPushButton


@pytest.fixture()
def plugin_module(monkeypatch):
    from urban_signatures.plugin import plugin as module

    monkeypatch.setattr(module, "_offered_this_session", False)
    return module


@pytest.fixture()
def bar(qgis_iface):
    bar = qgis_iface.messageBar()
    bar.clearWidgets()
    yield bar
    bar.clearWidgets()


def _plugin(module, iface, monkeypatch):
    plugin = module.UrbanSignaturesPlugin(iface)
    # the session's provider fixture holds the 'urbansig' id: do not register a second one
    monkeypatch.setattr(plugin, "initProcessing", lambda: None)
    return plugin


def test_offered_once_and_the_button_opens_the_setup_dialog(
    plugin_module, qgis_iface, bar, provider, monkeypatch, tmp_path
):
    import processing

    monkeypatch.setenv("URBANSIG_BACKEND_PYTHON", str(tmp_path / "missing" / "python"))
    opened: list[str] = []
    monkeypatch.setattr(processing, "execAlgorithmDialog", lambda alg, *a, **k: opened.append(alg))
    plugin = _plugin(plugin_module, qgis_iface, monkeypatch)
    plugin.initGui()

    item = bar.currentItem()
    assert item is not None and item.level() == Qgis.MessageLevel.Info
    assert "1.6 GB" in item.text() and item.duration() == 0  # stays until dismissed
    (button,) = [b for b in item.findChildren(QPushButton) if b.text() == "Set up backend"]
    button.click()
    assert opened == ["urbansig:setupbackend"]
    assert provider.algorithm("setupbackend") is not None  # the id the button opens exists
    assert bar.currentItem() is None  # the offer is gone once taken

    again = _plugin(plugin_module, qgis_iface, monkeypatch)
    again.initGui()  # a second load in the same session (plugin reloaded): no second offer
    assert bar.currentItem() is None
    plugin.unload()
    again.unload()


def test_not_offered_when_the_backend_is_there(plugin_module, qgis_iface, bar, monkeypatch):
    monkeypatch.setenv("URBANSIG_BACKEND_PYTHON", sys.executable)
    plugin = _plugin(plugin_module, qgis_iface, monkeypatch)
    plugin.initGui()
    assert bar.currentItem() is None
    assert plugin_module._offered_this_session is False


def test_not_offered_headless(plugin_module, monkeypatch, tmp_path):
    """qgis_process loads plugins without an iface."""
    monkeypatch.setenv("URBANSIG_BACKEND_PYTHON", str(tmp_path / "missing" / "python"))
    plugin = _plugin(plugin_module, None, monkeypatch)
    plugin.initGui()
    assert plugin.offer_backend_setup() is False
    assert plugin.setup_message is None


def test_unload_removes_an_open_offer(plugin_module, qgis_iface, bar, monkeypatch, tmp_path):
    monkeypatch.setenv("URBANSIG_BACKEND_PYTHON", str(tmp_path / "missing" / "python"))
    plugin = _plugin(plugin_module, qgis_iface, monkeypatch)
    plugin.initGui()
    assert bar.currentItem() is not None
    plugin.unload()
    assert bar.currentItem() is None
