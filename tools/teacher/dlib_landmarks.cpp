// Teacher for the small model: dlib's HOG frontal face detector and its 68-point shape
// predictor (iBUG 300-W order), run over a list of images.
//
// Usage: dlib_landmarks PREDICTOR.dat < list.txt > out.tsv
// One input line per image path. One output line per image, tab-separated:
//   path  status  upsample  left top right bottom  x0 y0 ... x67 y67
// status is "ok" or "none" (no face even after upsampling; the other fields are absent).
// When several faces are found the largest box wins: the crops are aligned single faces.
#define DLIB_JPEG_SUPPORT
#define DLIB_PNG_SUPPORT
#include <dlib/image_io.h>
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>

#include <iostream>
#include <string>

int main(int argc, char **argv) {
  if (argc != 2) {
    std::cerr << "usage: dlib_landmarks shape_predictor_68_face_landmarks.dat < list\n";
    return 2;
  }
  dlib::frontal_face_detector detector = dlib::get_frontal_face_detector();
  dlib::shape_predictor predictor;
  dlib::deserialize(argv[1]) >> predictor;

  std::string path;
  std::cout.setf(std::ios::fixed);
  std::cout.precision(2);
  while (std::getline(std::cin, path)) {
    if (path.empty()) continue;
    dlib::array2d<unsigned char> img;
    try {
      dlib::load_image(img, path);
    } catch (std::exception &e) {
      std::cout << path << "\terror\n";
      continue;
    }
    // Aligned crops are tight; the HOG detector's 80 px window often needs a 2x image.
    int upsample = 0;
    std::vector<dlib::rectangle> dets = detector(img);
    double scale = 1.0;
    if (dets.empty()) {
      dlib::pyramid_up(img);
      upsample = 1;
      scale = 0.5;
      dets = detector(img);
    }
    if (dets.empty()) {
      std::cout << path << "\tnone\n";
      continue;
    }
    dlib::rectangle best = dets[0];
    for (auto &d : dets)
      if (d.area() > best.area()) best = d;
    dlib::full_object_detection shape = predictor(img, best);
    std::cout << path << "\tok\t" << upsample << '\t' << best.left() * scale << '\t'
              << best.top() * scale << '\t' << (best.right() + 1) * scale << '\t'
              << (best.bottom() + 1) * scale;
    for (unsigned long i = 0; i < shape.num_parts(); ++i) {
      // pyramid_up doubles the image; map points back to the original pixels.
      std::cout << '\t' << shape.part(i).x() * scale << '\t' << shape.part(i).y() * scale;
    }
    std::cout << '\n';
  }
  return 0;
}
