// A small SVG line-chart writer (no dependencies): panels side by side, each
// with linear axes, "nice" ticks, one polyline with markers per series and a
// legend. Used by `arkv eval --plot` and `arkv bench --plot`.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace arkv::eval {

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y); drawn in x order
};

struct PlotPanel {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<PlotSeries> series;
};

// The whole SVG document. Panels without any finite point are drawn empty
// with their title. Series keep their colour across panels (by index).
std::string RenderSvg(const std::vector<PlotPanel>& panels);

// "Nice" tick values covering [lo, hi] (about `target` of them, steps of
// 1, 2 or 5 times a power of ten).
std::vector<double> NiceTicks(double lo, double hi, int target);

}  // namespace arkv::eval
