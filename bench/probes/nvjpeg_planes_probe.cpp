// Where does nvJPEG's RGB differ from libjpeg-turbo's? Decodes each JPEG given on the command line
// with libjpeg (reference RGB, and its raw downsampled Y/Cb/Cr planes) and with nvJPEG's batched
// decoder (hardware and hybrid backends; RGBI and YUV outputs), then compares:
//   - nvJPEG RGB against libjpeg RGB                      (what a user of nvJPEG's RGB gets)
//   - nvJPEG Y/Cb/Cr planes against libjpeg's raw planes    (is the entropy decode + IDCT equal?)
//   - libjpeg's fancy upsampling + YCbCr→RGB, redone here on nvJPEG's planes, against libjpeg RGB
// Not part of the CMake build (it needs nvjpeg.h); built and run on the GPU machine by hand:
//   g++ -O2 -std=c++20 bench/probes/nvjpeg_planes_probe.cpp -I/usr/local/cuda/include \
//       -L/usr/local/cuda/lib64 -lnvjpeg -lcudart -ljpeg -o /tmp/probe && /tmp/probe tiles/*.jpg
#include <cuda_runtime.h>
#include <jpeglib.h>
#include <nvjpeg.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "failed: %s\n", what);
    std::exit(1);
  }
}

struct Planes {
  int width = 0, height = 0, cw = 0, ch = 0;
  std::vector<unsigned char> y, cb, cr;
};

std::vector<unsigned char> libjpeg_rgb(const std::vector<unsigned char>& data, int* w, int* h) {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data.data(), data.size());
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  *w = cinfo.output_width;
  *h = cinfo.output_height;
  std::vector<unsigned char> out(size_t(*w) * *h * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    unsigned char* row = out.data() + size_t(cinfo.output_scanline) * *w * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return out;
}

// The component planes after the IDCT, before upsampling (raw_data_out), cropped to the image.
Planes libjpeg_planes(const std::vector<unsigned char>& data) {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data.data(), data.size());
  jpeg_read_header(&cinfo, TRUE);
  cinfo.raw_data_out = TRUE;
  cinfo.out_color_space = JCS_YCbCr;
  jpeg_start_decompress(&cinfo);
  Planes p;
  p.width = cinfo.image_width;
  p.height = cinfo.image_height;
  int hmax = cinfo.max_h_samp_factor, vmax = cinfo.max_v_samp_factor;
  check(cinfo.comp_info[0].h_samp_factor == 2 && cinfo.comp_info[0].v_samp_factor == 2 &&
            cinfo.comp_info[1].h_samp_factor == 1 && hmax == 2 && vmax == 2,
        "4:2:0 input");
  p.cw = (p.width + 1) / 2;
  p.ch = (p.height + 1) / 2;
  int rows_y = 16, rows_c = 8;
  int padded_w = ((p.width + 15) / 16) * 16;
  std::vector<std::vector<unsigned char>> buf_y(rows_y, std::vector<unsigned char>(padded_w));
  std::vector<std::vector<unsigned char>> buf_cb(rows_c, std::vector<unsigned char>(padded_w / 2));
  std::vector<std::vector<unsigned char>> buf_cr(rows_c, std::vector<unsigned char>(padded_w / 2));
  std::vector<JSAMPROW> ry(rows_y), rcb(rows_c), rcr(rows_c);
  for (int i = 0; i < rows_y; ++i) ry[i] = buf_y[i].data();
  for (int i = 0; i < rows_c; ++i) rcb[i] = buf_cb[i].data(), rcr[i] = buf_cr[i].data();
  JSAMPARRAY planes[3] = {ry.data(), rcb.data(), rcr.data()};
  p.y.assign(size_t(p.width) * p.height, 0);
  p.cb.assign(size_t(p.cw) * p.ch, 0);
  p.cr.assign(size_t(p.cw) * p.ch, 0);
  int row = 0;
  while (cinfo.output_scanline < cinfo.output_height) {
    jpeg_read_raw_data(&cinfo, planes, rows_y);
    for (int i = 0; i < rows_y && row + i < p.height; ++i)
      std::memcpy(&p.y[size_t(row + i) * p.width], buf_y[i].data(), p.width);
    for (int i = 0; i < rows_c && row / 2 + i < p.ch; ++i) {
      std::memcpy(&p.cb[size_t(row / 2 + i) * p.cw], buf_cb[i].data(), p.cw);
      std::memcpy(&p.cr[size_t(row / 2 + i) * p.cw], buf_cr[i].data(), p.cw);
    }
    row += rows_y;
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return p;
}

// libjpeg-turbo's h2v2 fancy upsampling (jdsample.c) of one plane: triangle filter, context rows
// replicated at the top and bottom edges.
std::vector<unsigned char> fancy_h2v2(const std::vector<unsigned char>& in, int cw, int ch, int w,
                                      int h) {
  std::vector<unsigned char> out(size_t(2 * cw) * 2 * ch);
  int ow = 2 * cw;
  for (int r = 0; r < ch; ++r) {
    for (int v = 0; v < 2; ++v) {
      int near = r, far = v == 0 ? (r > 0 ? r - 1 : 0) : (r + 1 < ch ? r + 1 : ch - 1);
      const unsigned char* i0 = &in[size_t(near) * cw];
      const unsigned char* i1 = &in[size_t(far) * cw];
      unsigned char* o = &out[size_t(2 * r + v) * ow];
      auto sum = [&](int c) { return int(i0[c]) * 3 + int(i1[c]); };
      if (cw == 1) {
        o[0] = (sum(0) * 4 + 8) >> 4;
        o[1] = (sum(0) * 4 + 7) >> 4;
        continue;
      }
      for (int c = 0; c < cw; ++c) {
        int t = sum(c);
        int l = c > 0 ? sum(c - 1) : -1, n = c + 1 < cw ? sum(c + 1) : -1;
        o[2 * c] = c == 0 ? (t * 4 + 8) >> 4 : (t * 3 + l + 8) >> 4;
        o[2 * c + 1] = c == cw - 1 ? (t * 4 + 7) >> 4 : (t * 3 + n + 7) >> 4;
      }
    }
  }
  (void)w;
  (void)h;
  return out;
}

// libjpeg's ycc_rgb_convert with its tables (jdcolor.c), SCALEBITS 16.
void ycc_to_rgb(int y, int cb, int cr, unsigned char* rgb) {
  constexpr int kScale = 16;
  constexpr long kHalf = 1L << (kScale - 1);
  auto fix = [](double x) { return long(x * (1L << kScale) + 0.5); };
  long x_cr = cr - 128, x_cb = cb - 128;
  int r = y + int((fix(1.40200) * x_cr + kHalf) >> kScale);
  int g = y + int(((-fix(0.34414)) * x_cb + kHalf + (-fix(0.71414)) * x_cr) >> kScale);
  int b = y + int((fix(1.77200) * x_cb + kHalf) >> kScale);
  auto clamp = [](int v) { return static_cast<unsigned char>(v < 0 ? 0 : v > 255 ? 255 : v); };
  rgb[0] = clamp(r);
  rgb[1] = clamp(g);
  rgb[2] = clamp(b);
}

std::vector<unsigned char> planes_to_rgb(const Planes& p) {
  auto cb = fancy_h2v2(p.cb, p.cw, p.ch, p.width, p.height);
  auto cr = fancy_h2v2(p.cr, p.cw, p.ch, p.width, p.height);
  std::vector<unsigned char> rgb(size_t(p.width) * p.height * 3);
  int ow = 2 * p.cw;
  for (int r = 0; r < p.height; ++r)
    for (int c = 0; c < p.width; ++c)
      ycc_to_rgb(p.y[size_t(r) * p.width + c], cb[size_t(r) * ow + c], cr[size_t(r) * ow + c],
                 &rgb[(size_t(r) * p.width + c) * 3]);
  return rgb;
}

struct Diff {
  int max = 0;
  size_t over1 = 0, differ = 0, n = 0;
  void add(const unsigned char* a, const unsigned char* b, size_t count) {
    for (size_t i = 0; i < count; ++i) {
      int d = std::abs(int(a[i]) - int(b[i]));
      max = std::max(max, d);
      over1 += d > 1;
      differ += d > 0;
    }
    n += count;
  }
  void print(const char* what) const {
    std::printf("%-58s max %3d  differ %10zu  >1 %10zu  of %zu\n", what, max, differ, over1, n);
  }
};

std::vector<unsigned char> to_host(const void* device, size_t bytes) {
  std::vector<unsigned char> h(bytes);
  check(cudaMemcpy(h.data(), device, bytes, cudaMemcpyDeviceToHost) == cudaSuccess, "D2H");
  return h;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::vector<unsigned char>> files;
  for (int i = 1; i < argc; ++i) {
    std::ifstream f(argv[i], std::ios::binary);
    files.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  const int n = static_cast<int>(files.size());
  check(n > 0, "no input files");
  std::vector<std::vector<unsigned char>> ref_rgb(n);
  std::vector<Planes> ref_planes(n);
  int w = 0, h = 0;
  Diff self;
  for (int i = 0; i < n; ++i) {
    ref_rgb[i] = libjpeg_rgb(files[i], &w, &h);
    ref_planes[i] = libjpeg_planes(files[i]);
    auto mine = planes_to_rgb(ref_planes[i]);
    self.add(mine.data(), ref_rgb[i].data(), mine.size());
  }
  self.print("our upsample+convert of libjpeg planes vs libjpeg RGB");

  std::vector<const unsigned char*> data(n);
  std::vector<size_t> lengths(n);
  for (int i = 0; i < n; ++i) data[i] = files[i].data(), lengths[i] = files[i].size();
  const size_t rgb_bytes = size_t(w) * h * 3, y_bytes = size_t(w) * h,
               c_bytes = size_t((w + 1) / 2) * ((h + 1) / 2);
  for (auto backend :
       {NVJPEG_BACKEND_HARDWARE, NVJPEG_BACKEND_GPU_HYBRID, NVJPEG_BACKEND_DEFAULT}) {
    const char* name = backend == NVJPEG_BACKEND_HARDWARE     ? "hardware"
                       : backend == NVJPEG_BACKEND_GPU_HYBRID ? "hybrid"
                                                              : "default";
    nvjpegHandle_t handle;
    if (nvjpegCreateEx(backend, nullptr, nullptr, 0, &handle) != NVJPEG_STATUS_SUCCESS) {
      std::printf("%s: not available\n", name);
      continue;
    }
    nvjpegJpegState_t state;
    check(nvjpegJpegStateCreate(handle, &state) == NVJPEG_STATUS_SUCCESS, "state");
    cudaStream_t stream;
    check(cudaStreamCreate(&stream) == cudaSuccess, "stream");
    // RGBI
    {
      std::vector<unsigned char*> outs(n);
      std::vector<nvjpegImage_t> images(n);
      for (int i = 0; i < n; ++i) {
        check(cudaMalloc(&outs[i], rgb_bytes) == cudaSuccess, "malloc");
        std::memset(&images[i], 0, sizeof(nvjpegImage_t));
        images[i].channel[0] = outs[i];
        images[i].pitch[0] = size_t(w) * 3;
      }
      nvjpegStatus_t st = nvjpegDecodeBatchedInitialize(handle, state, n, 1, NVJPEG_OUTPUT_RGBI);
      if (st == NVJPEG_STATUS_SUCCESS)
        st = nvjpegDecodeBatched(handle, state, data.data(), lengths.data(), images.data(), stream);
      cudaStreamSynchronize(stream);
      if (st != NVJPEG_STATUS_SUCCESS) {
        std::printf("%s RGBI batched: status %d\n", name, int(st));
      } else {
        Diff d;
        for (int i = 0; i < n; ++i)
          d.add(to_host(outs[i], rgb_bytes).data(), ref_rgb[i].data(), rgb_bytes);
        d.print((std::string(name) + " batched RGBI vs libjpeg RGB").c_str());
      }
      for (auto* p : outs) cudaFree(p);
    }
    // YUV planes
    {
      std::vector<unsigned char*> outs(n);
      std::vector<nvjpegImage_t> images(n);
      for (int i = 0; i < n; ++i) {
        check(cudaMalloc(&outs[i], y_bytes + 2 * c_bytes) == cudaSuccess, "malloc");
        std::memset(&images[i], 0, sizeof(nvjpegImage_t));
        images[i].channel[0] = outs[i];
        images[i].pitch[0] = w;
        images[i].channel[1] = outs[i] + y_bytes;
        images[i].pitch[1] = (w + 1) / 2;
        images[i].channel[2] = outs[i] + y_bytes + c_bytes;
        images[i].pitch[2] = (w + 1) / 2;
      }
      nvjpegStatus_t st = nvjpegDecodeBatchedInitialize(handle, state, n, 1, NVJPEG_OUTPUT_YUV);
      if (st == NVJPEG_STATUS_SUCCESS)
        st = nvjpegDecodeBatched(handle, state, data.data(), lengths.data(), images.data(), stream);
      cudaStreamSynchronize(stream);
      if (st != NVJPEG_STATUS_SUCCESS) {
        std::printf("%s YUV batched: status %d\n", name, int(st));
      } else {
        Diff dy, dc, drgb;
        for (int i = 0; i < n; ++i) {
          auto all = to_host(outs[i], y_bytes + 2 * c_bytes);
          Planes p = ref_planes[i];
          dy.add(all.data(), p.y.data(), y_bytes);
          dc.add(all.data() + y_bytes, p.cb.data(), c_bytes);
          dc.add(all.data() + y_bytes + c_bytes, p.cr.data(), c_bytes);
          p.y.assign(all.begin(), all.begin() + y_bytes);
          p.cb.assign(all.begin() + y_bytes, all.begin() + y_bytes + c_bytes);
          p.cr.assign(all.begin() + y_bytes + c_bytes, all.end());
          auto rgb = planes_to_rgb(p);
          drgb.add(rgb.data(), ref_rgb[i].data(), rgb.size());
        }
        dy.print((std::string(name) + " batched YUV: Y plane vs libjpeg").c_str());
        dc.print((std::string(name) + " batched YUV: Cb, Cr planes vs libjpeg").c_str());
        drgb.print((std::string(name) + " YUV + our upsample/convert vs libjpeg RGB").c_str());
      }
      for (auto* p : outs) cudaFree(p);
    }
    cudaStreamDestroy(stream);
    nvjpegJpegStateDestroy(state);
    nvjpegDestroy(handle);
  }
  return 0;
}
