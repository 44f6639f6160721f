"""Where the events are: datasets, samples, files with replicas, preprocessing, chunks."""

from hepflow.core.chunk import Chunk, FriendPiece
from hepflow.dataset.chunks import FileInfo
from hepflow.dataset.prepare import PreparedDataset, preprocess
from hepflow.dataset.spec import Dataset, FileSpec, Friend, Sample

__all__ = ["Chunk", "Dataset", "FileInfo", "FileSpec", "Friend", "FriendPiece", "PreparedDataset",
           "Sample", "preprocess"]
