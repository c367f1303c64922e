"""Screenshots of what a user sees: an algorithm's dialog with its help panel, and a result
layer on a map with its legend (a print layout exported as PNG). Each function checks what
it shows and returns a line saying so."""

from __future__ import annotations

from pathlib import Path

from qgis.core import (
    QgsLayoutExporter,
    QgsLayoutItemLabel,
    QgsLayoutItemLegend,
    QgsLayoutItemMap,
    QgsLayoutPoint,
    QgsLayoutSize,
    QgsMapLayer,
    QgsPrintLayout,
    QgsProject,
    QgsUnitTypes,
)
from qgis.PyQt.QtCore import QCoreApplication, Qt
from qgis.PyQt.QtGui import QColor, QFont, QImage
from qgis.PyQt.QtWidgets import QTextBrowser, QWidget

MM = QgsUnitTypes.LayoutUnit.LayoutMillimeters


def distinct_colours(image: QImage, step: int = 4) -> int:
    """How many different colours a grid of the image's pixels holds."""
    seen = {
        image.pixel(x, y)
        for x in range(0, image.width(), step)
        for y in range(0, image.height(), step)
    }
    return len(seen)


def dialog_png(dialog: QWidget, title: str, path: Path) -> str:
    """The dialog (1100 x 760) with its help panel; checks the panel shows ``title``'s help."""
    dialog.resize(1100, 760)
    dialog.show()
    QCoreApplication.processEvents()
    panels = [
        browser
        for browser in dialog.findChildren(QTextBrowser)
        if browser.isVisible()
        and ("How it works" in browser.toPlainText() or "Parameters" in browser.toPlainText())
    ]
    assert panels and panels[0].width() > 150, f"{title}: the help panel is not shown"
    image = dialog.grab().toImage()
    colours = distinct_colours(image)
    assert image.width() >= 1000 and colours > 20, f"{title}: blank dialog ({colours} colours)"
    path.parent.mkdir(parents=True, exist_ok=True)
    assert image.save(str(path)), path
    words = len(panels[0].toPlainText().split())
    return f"{path.name}: {title} dialog, help panel shown ({words} words)"


def layer_png(layer: QgsMapLayer, path: Path) -> str:
    """``layer`` alone on an A4 landscape layout with a title and its legend, as PNG;
    checks the map is drawn (many colours) and the legend lists the renderer's entries."""
    project = QgsProject.instance()
    layout = QgsPrintLayout(project)
    layout.initializeDefaults()  # one A4 landscape page
    title = QgsLayoutItemLabel(layout)
    title.setText(layer.name())
    title.setFont(QFont("DejaVu Sans", 16))
    title.attemptMove(QgsLayoutPoint(8, 6, MM))
    title.attemptResize(QgsLayoutSize(280, 12, MM))
    layout.addLayoutItem(title)
    map_item = QgsLayoutItemMap(layout)
    map_item.attemptMove(QgsLayoutPoint(8, 20, MM))
    map_item.attemptResize(QgsLayoutSize(180, 180, MM))
    map_item.setCrs(layer.crs())
    map_item.setKeepLayerSet(True)
    map_item.setLayers([layer])
    map_item.setBackgroundColor(QColor("white"))
    layout.addLayoutItem(map_item)
    map_item.setExtent(layer.extent())
    map_item.refresh()
    legend = QgsLayoutItemLegend(layout)
    renderer = layer.renderer()
    field = renderer.classAttribute() if hasattr(renderer, "classAttribute") else ""
    legend.setTitle(f"Legend: {field}" if field else "Legend")
    legend.setLinkedMap(map_item)
    legend.setAutoUpdateModel(False)
    legend.model().rootGroup().clear()
    legend.model().rootGroup().addLayer(layer)
    legend.setResizeToContents(True)
    legend.attemptMove(QgsLayoutPoint(194, 20, MM))
    layout.addLayoutItem(legend)
    tree_layer = legend.model().rootGroup().findLayer(layer)
    nodes = legend.model().layerLegendNodes(tree_layer)
    entries = [str(node.data(Qt.ItemDataRole.DisplayRole) or "") for node in nodes]
    assert entries, f"{layer.name()}: nothing in the legend"
    settings = QgsLayoutExporter.ImageExportSettings()
    settings.dpi = 96
    path.parent.mkdir(parents=True, exist_ok=True)
    done = QgsLayoutExporter(layout).exportToImage(str(path), settings)
    assert done == QgsLayoutExporter.ExportResult.Success, f"{path}: export failed ({done})"
    image = QImage(str(path))
    map_part = image.copy(30, 75, 680, 680)
    assert distinct_colours(map_part) > 3, f"{layer.name()}: nothing drawn on the map"
    shown = ", ".join(entry or "(one symbol)" for entry in entries[:4]) + (
        f", ... ({len(entries)} entries)" if len(entries) > 4 else ""
    )
    return f"{path.name}: {layer.name()} on the map, legend {shown}"
