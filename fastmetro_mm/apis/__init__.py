"""Inference on images and videos: models, person detection, results and their export."""
from .bbox_file import FrameBoxes, read_bbox_file
from .detection import detect_people, init_person_detector
from .export import predictions_to_arrays, save_image, save_obj, save_predictions
from .glb_export import save_glb
from .inference import inference_mesh, init_model, mesh_faces
from .mesh_inferencer import MeshInferencer
from .mesh_prediction import MeshPrediction
from .model_names import MODEL_NAMES
from .person_mesh_export import MESH_FRAMES, save_person_mesh
from .person_tracking import IoUTracker, track_boxes
from .stage_profile import StageProfile, stage
from .temporal_smoothing import SmoothingParams, TemporalSmoother
from .video_inference import TrackedMeshPrediction, inference_video, iter_inference_video

__all__ = ['init_model', 'inference_mesh', 'mesh_faces', 'MeshPrediction',
           'init_person_detector', 'detect_people', 'save_obj', 'save_image',
           'save_predictions', 'predictions_to_arrays', 'StageProfile', 'stage', 'save_glb',
           'save_person_mesh', 'MESH_FRAMES', 'inference_video', 'iter_inference_video',
           'TrackedMeshPrediction', 'IoUTracker', 'track_boxes', 'SmoothingParams',
           'TemporalSmoother', 'read_bbox_file', 'FrameBoxes',
           'MeshInferencer', 'MODEL_NAMES']
