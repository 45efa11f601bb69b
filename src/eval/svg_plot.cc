#include "eval/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include <fmt/format.h>

namespace arkv::eval {

std::vector<double> NiceTicks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!std::isfinite(lo) || !std::isfinite(hi) || target < 1) {
    return ticks;
  }
  if (hi <= lo) {
    ticks.push_back(lo);
    return ticks;
  }
  const double raw = (hi - lo) / target;
  const int exponent = static_cast<int>(std::floor(std::log10(raw)));
  // Tick k is k * m * 10^exponent; dividing an integer by an exact power of
  // ten gives the double nearest the decimal value (3.6, not 3.5999...).
  const double scale = std::pow(10.0, std::abs(exponent));
  auto value = [&](double units) { return exponent < 0 ? units / scale : units * scale; };
  double m = 1.0;
  for (double candidate : {1.0, 2.0, 5.0, 10.0}) {
    m = candidate;
    if (value(m) >= raw) {
      break;
    }
  }
  const double step = value(m);
  const auto first = static_cast<int64_t>(std::ceil(lo / step - 1e-9));
  const auto last = static_cast<int64_t>(std::floor(hi / step + 1e-9));
  for (int64_t k = first; k <= last; ++k) {
    ticks.push_back(value(static_cast<double>(k) * m));
  }
  return ticks;
}

namespace {

constexpr const char* kColors[] = {"#222222", "#1f77b4", "#ff7f0e", "#2ca02c",
                                   "#d62728", "#9467bd", "#8c564b", "#e377c2"};
constexpr int kNumColors = static_cast<int>(sizeof(kColors) / sizeof(kColors[0]));

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string TickLabel(double v) {
  std::string s = fmt::format("{:.6g}", v);
  return s;
}

constexpr double kPanelW = 460, kPanelH = 340, kLeft = 64, kRight = 16, kTop = 36, kBottom = 52;

void RenderPanel(const PlotPanel& p, double ox, std::string& svg) {
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (const PlotSeries& s : p.series) {
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) {
        continue;
      }
      x_lo = std::min(x_lo, x);
      x_hi = std::max(x_hi, x);
      y_lo = std::min(y_lo, y);
      y_hi = std::max(y_hi, y);
    }
  }
  const double pw = kPanelW - kLeft - kRight, ph = kPanelH - kTop - kBottom;
  const double px = ox + kLeft, py = kTop;
  svg += fmt::format(
      "<text x=\"{:.1f}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" "
      "font-weight=\"bold\">{}</text>\n",
      ox + kLeft + pw / 2, Escape(p.title));
  svg += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
      "stroke=\"#888\"/>\n",
      px, py, pw, ph);
  if (!std::isfinite(x_lo)) {
    return;
  }
  // Pad the ranges by 5% so markers are not cut at the frame.
  auto pad = [](double& lo, double& hi) {
    const double span = hi - lo;
    const double m = span > 0 ? span * 0.05 : (std::abs(lo) > 0 ? std::abs(lo) * 0.05 : 1.0);
    lo -= m;
    hi += m;
  };
  pad(x_lo, x_hi);
  pad(y_lo, y_hi);
  auto sx = [&](double x) { return px + (x - x_lo) / (x_hi - x_lo) * pw; };
  auto sy = [&](double y) { return py + ph - (y - y_lo) / (y_hi - y_lo) * ph; };
  for (double t : NiceTicks(x_lo, x_hi, 6)) {
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#eee\"/>"
        "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\" font-size=\"11\">{4}</text>\n",
        sx(t), py, py + ph, py + ph + 15, TickLabel(t));
  }
  for (double t : NiceTicks(y_lo, y_hi, 6)) {
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#eee\"/>"
        "<text x=\"{3:.1f}\" y=\"{4:.1f}\" text-anchor=\"end\" font-size=\"11\">{5}</text>\n",
        px, sy(t), px + pw, px - 5, sy(t) + 4, TickLabel(t));
  }
  svg += fmt::format(
      "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"12\">{}</text>\n",
      px + pw / 2, py + ph + 36, Escape(p.x_label));
  svg += fmt::format(
      "<text transform=\"translate({:.1f},{:.1f}) rotate(-90)\" text-anchor=\"middle\" "
      "font-size=\"12\">{}</text>\n",
      ox + 16, py + ph / 2, Escape(p.y_label));
  // Legend in the corner of the frame that covers the fewest points.
  const double legend_w = 118, legend_h = 15.0 * static_cast<double>(p.series.size()) + 6;
  double legend_x = px + pw - legend_w, legend_y = py;
  size_t fewest = SIZE_MAX;
  for (const auto& [cx, cy] :
       {std::pair{px + pw - legend_w, py}, std::pair{px + 4, py},
        std::pair{px + pw - legend_w, py + ph - legend_h}, std::pair{px + 4, py + ph - legend_h}}) {
    size_t covered = 0;
    for (const PlotSeries& s : p.series) {
      for (const auto& [x, y] : s.points) {
        if (!std::isfinite(x) || !std::isfinite(y)) {
          continue;
        }
        const double X = sx(x), Y = sy(y);
        if (X >= cx - 4 && X <= cx + legend_w + 4 && Y >= cy - 4 && Y <= cy + legend_h + 4) {
          ++covered;
        }
      }
    }
    if (covered < fewest) {
      fewest = covered;
      legend_x = cx;
      legend_y = cy;
    }
  }
  for (size_t i = 0; i < p.series.size(); ++i) {
    const PlotSeries& s = p.series[i];
    const char* color = kColors[i % kNumColors];
    std::vector<std::pair<double, double>> pts;
    for (const auto& pt : s.points) {
      if (std::isfinite(pt.first) && std::isfinite(pt.second)) {
        pts.push_back(pt);
      }
    }
    std::sort(pts.begin(), pts.end());
    if (pts.size() > 1) {
      svg +=
          fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"", color);
      for (const auto& [x, y] : pts) {
        svg += fmt::format("{:.1f},{:.1f} ", sx(x), sy(y));
      }
      svg += "\"/>\n";
    }
    for (const auto& [x, y] : pts) {
      svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"/>\n", sx(x),
                         sy(y), color);
    }
    const double ly = legend_y + 12 + 15 * static_cast<double>(i);
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"{3}\" "
        "stroke-width=\"2\"/><text x=\"{4:.1f}\" y=\"{5:.1f}\" font-size=\"11\">{6}</text>\n",
        legend_x + 6, ly, legend_x + 26, color, legend_x + 31, ly + 4, Escape(s.name));
  }
}

}  // namespace

std::string RenderSvg(const std::vector<PlotPanel>& panels) {
  const double width = kPanelW * static_cast<double>(std::max<size_t>(1, panels.size()));
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.0f}\" height=\"{1:.0f}\" "
      "viewBox=\"0 0 {0:.0f} {1:.0f}\" font-family=\"sans-serif\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, kPanelH);
  for (size_t i = 0; i < panels.size(); ++i) {
    RenderPanel(panels[i], kPanelW * i, svg);
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace arkv::eval
