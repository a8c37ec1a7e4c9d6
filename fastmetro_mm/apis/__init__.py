"""Inference on images and videos: models, person detection, results and their export."""
from .detection import detect_people, init_person_detector
from .export import predictions_to_arrays, save_image, save_obj, save_predictions
from .inference import inference_mesh, init_model, mesh_faces
from .mesh_prediction import MeshPrediction
from .stage_profile import StageProfile, stage

__all__ = ['init_model', 'inference_mesh', 'mesh_faces', 'MeshPrediction',
           'init_person_detector', 'detect_people', 'save_obj', 'save_image',
           'save_predictions', 'predictions_to_arrays', 'StageProfile', 'stage']
